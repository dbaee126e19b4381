package localsock

import (
	"fmt"
	"strings"
)

// Named pipe security on Windows, in plain Go so that it is unit-tested on
// every OS (sddl_test.go); localsock_windows.go applies it.
//
// A pipe's DACL decides two things: who may connect as a client, and who
// may create further server instances of the same name (the
// FILE_CREATE_PIPE_INSTANCE right, which is FILE_APPEND_DATA and so part of
// GENERIC_WRITE). A client granted GENERIC_WRITE could therefore serve the
// pipe itself and answer the next caller in the agent's place; clients get
// ClientAccess instead, which leaves that right out. The server's own
// account gets full control, so that it can create the instances it
// accepts on (the first one is created with FILE_CREATE, the equivalent of
// FILE_FLAG_FIRST_PIPE_INSTANCE: a squatter who made the name first makes
// Listen fail instead of being served).

// Access masks of the pipe ACEs (winnt.h).
const (
	fileReadData       = 0x0001
	fileWriteData      = 0x0002
	fileCreateInstance = 0x0004 // FILE_APPEND_DATA on files
	fileReadEA         = 0x0008
	fileReadAttributes = 0x0080
	readControl        = 0x00020000
	synchronize        = 0x00100000
	genericRead        = 0x80000000

	// ClientAccess is what a client of the agent's pipes is granted:
	// FILE_GENERIC_READ and FILE_WRITE_DATA, never
	// FILE_CREATE_PIPE_INSTANCE.
	ClientAccess = fileReadData | fileWriteData | fileReadEA | fileReadAttributes | readControl | synchronize
	// dialAccess is what Dial asks for: GENERIC_READ (mapped to
	// FILE_GENERIC_READ) and FILE_WRITE_DATA, all within ClientAccess.
	dialAccess = genericRead | fileWriteData
)

// Well-known SIDs used in the ACLs.
const (
	sidSystem      = "S-1-5-18" // LocalSystem, the service
	sidInteractive = "S-1-5-4"  // INTERACTIVE: users logged on at the console or over RDP
)

// PublicSDDL is the security descriptor of the pipes every interactive user
// may call (`porthole-agent elevate`, `request-admin`, `request-support`):
// full control for SYSTEM and the server's own account (owner, a SID
// string), client access for INTERACTIVE. Network logons, services and
// anonymous callers are not admitted, and the pipes refuse remote clients
// anyway (PIPE_REJECT_REMOTE_CLIENTS). The DACL is protected: nothing is
// inherited.
func PublicSDDL(owner string) (string, error) {
	return sddl(owner, sidInteractive)
}

// PrivateSDDL is the security descriptor of a pipe between the service and
// the helper it starts in one user's session: full control for SYSTEM and
// the server's own account (owner), client access for that user only
// (user, a SID string).
func PrivateSDDL(owner, user string) (string, error) {
	if user == sidInteractive {
		return "", fmt.Errorf("localsock: a private pipe is for one user, not %s", user)
	}
	return sddl(owner, user)
}

func sddl(owner, client string) (string, error) {
	for _, s := range []string{owner, client} {
		if !validSID(s) {
			return "", fmt.Errorf("localsock: %q is not a SID", s)
		}
	}
	var b strings.Builder
	b.WriteString("D:P")
	full := []string{sidSystem}
	if owner != sidSystem {
		full = append(full, owner)
	}
	for _, s := range full {
		fmt.Fprintf(&b, "(A;;GA;;;%s)", s)
	}
	if client != owner && client != sidSystem {
		fmt.Fprintf(&b, "(A;;0x%x;;;%s)", ClientAccess, client)
	}
	return b.String(), nil
}

// validSID accepts the string form of a SID, S-1-<authority>-<sub>…, and
// nothing that could change the meaning of the SDDL it is put in.
func validSID(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(parts) > 2+1+15 || parts[0] != "S" || parts[1] != "1" {
		return false
	}
	for _, p := range parts[2:] {
		if p == "" || len(p) > 20 {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// CreateNamedPipe flags (winbase.h).
const (
	pipeAccessDuplex          = 0x00000003
	fileFlagOverlapped        = 0x40000000
	fileFlagFirstPipeInstance = 0x00080000
	pipeTypeByte              = 0x00000000
	pipeReadmodeByte          = 0x00000000
	pipeWait                  = 0x00000000
	pipeRejectRemoteClients   = 0x00000008
)

// pipeModes are the open mode and pipe mode of a server instance: duplex,
// overlapped, a byte stream, never for remote clients, and for the first
// instance of a name FILE_FLAG_FIRST_PIPE_INSTANCE (creation fails if the
// name exists).
func pipeModes(first bool) (open, mode uint32) {
	open = pipeAccessDuplex | fileFlagOverlapped
	if first {
		open |= fileFlagFirstPipeInstance
	}
	return open, pipeTypeByte | pipeReadmodeByte | pipeWait | pipeRejectRemoteClients
}
