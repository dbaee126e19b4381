// Package winlocal is the Windows local-security API that break glass
// (agent/accounts) and elevation grants (agent/elevation) call: local users
// and groups (netapi32), account names and SIDs (advapi32), profiles
// (userenv), logon sessions (wtsapi32) and processes with their tokens
// (ntdll, kernel32).
//
// The types and error codes here are plain Go and compile everywhere, so
// the code that decides what to call in which order is unit-tested on Linux
// against winlocaltest.Machine, a hand-written fake that behaves like a
// Windows machine and records every call. Win32 (win32_windows.go) makes
// the real calls. Each consumer declares the few methods it needs as its
// own interface; both Win32 and the fake satisfy them.
//
// Invariants the consumers rely on:
//   - Groups are found by SID (AdministratorsSID), never by name: the name
//     is localised ("Administratoren", "Administrateurs").
//   - A Process is identified by its PID and creation time together, and
//     Win32 re-checks the creation time on every handle it opens, so a
//     reused PID is never mistaken for the process that was listed.
package winlocal

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// AdministratorsSID is BUILTIN\Administrators, whatever its name in the
// machine's language.
const AdministratorsSID = "S-1-5-32-544"

// USER_INFO_1 flags and privilege levels (lmaccess.h) used by break glass.
const (
	UFScript           uint32 = 0x0001
	UFAccountDisable   uint32 = 0x0002
	UFPasswdCantChange uint32 = 0x0040
	UFNormalAccount    uint32 = 0x0200
	UFDontExpirePasswd uint32 = 0x10000
	// UserPrivUser is the only privilege level NetUserAdd accepts;
	// administrator rights come from group membership.
	UserPrivUser uint32 = 1
)

// SID name uses (SID_NAME_USE) returned by the lookups.
const (
	SidTypeUser           uint32 = 1
	SidTypeGroup          uint32 = 2
	SidTypeDomain         uint32 = 3
	SidTypeAlias          uint32 = 4
	SidTypeWellKnownGroup uint32 = 5
)

// Token elevation types (TOKEN_ELEVATION_TYPE).
const (
	ElevationTypeDefault uint32 = 1
	ElevationTypeFull    uint32 = 2
	ElevationTypeLimited uint32 = 3
)

// Errno is a Win32 error or NET_API_STATUS code, as the real calls return
// it and as the fake returns it, so callers test both with errors.Is.
type Errno uint32

// The codes the consumers handle.
const (
	ErrorFileNotFound     Errno = 2
	ErrorPathNotFound     Errno = 3
	ErrorAccessDenied     Errno = 5
	ErrorInvalidParameter Errno = 87
	ErrorNoneMapped       Errno = 1332
	ErrorMemberNotInAlias Errno = 1377
	ErrorMemberInAlias    Errno = 1378
	ErrorNoSuchMember     Errno = 1387
	NERRGroupNotFound     Errno = 2220
	NERRUserNotFound      Errno = 2221
	NERRUserExists        Errno = 2224
	NERRPasswordTooShort  Errno = 2245
)

var errnoNames = map[Errno]string{
	ErrorFileNotFound:     "ERROR_FILE_NOT_FOUND",
	ErrorPathNotFound:     "ERROR_PATH_NOT_FOUND",
	ErrorAccessDenied:     "ERROR_ACCESS_DENIED",
	ErrorInvalidParameter: "ERROR_INVALID_PARAMETER",
	ErrorNoneMapped:       "ERROR_NONE_MAPPED",
	ErrorMemberNotInAlias: "ERROR_MEMBER_NOT_IN_ALIAS",
	ErrorMemberInAlias:    "ERROR_MEMBER_IN_ALIAS",
	ErrorNoSuchMember:     "ERROR_NO_SUCH_MEMBER",
	NERRGroupNotFound:     "NERR_GroupNotFound",
	NERRUserNotFound:      "NERR_UserNotFound",
	NERRUserExists:        "NERR_UserExists",
	NERRPasswordTooShort:  "NERR_PasswordTooShort",
}

func (e Errno) Error() string {
	if n, ok := errnoNames[e]; ok {
		return fmt.Sprintf("%s (%d)", n, uint32(e))
	}
	return fmt.Sprintf("windows error %d", uint32(e))
}

// ErrGone means the process listed is no longer there: it exited, or its
// PID now belongs to a process created at another time.
var ErrGone = errors.New("winlocal: process gone")

// ErrNotOwner means Terminate refused a process whose token user is not
// the SID it was asked to stop.
var ErrNotOwner = errors.New("winlocal: process belongs to another user")

// NewUser is USER_INFO_1, what NetUserAdd is given at level 1.
type NewUser struct {
	Name     string
	Password string
	Priv     uint32
	Comment  string
	Flags    uint32
}

// UserInfo is what NetUserGetInfo tells about a local user (levels 2 and 23).
type UserInfo struct {
	Name  string
	SID   string
	Flags uint32
	// LastLogon is zero if the user never logged on (usri2_last_logon 0).
	LastLogon time.Time
	NumLogons int
}

// Account is a name or SID resolved by LookupAccountName / LookupAccountSid.
type Account struct {
	Name   string
	Domain string
	SID    string
	// Type is a SID_NAME_USE (SidTypeUser, SidTypeAlias…).
	Type uint32
}

// Qualified is DOMAIN\Name, or Name when there is no domain.
func (a Account) Qualified() string {
	if a.Domain == "" {
		return a.Name
	}
	return a.Domain + `\` + a.Name
}

// Session is a logon session from WTSEnumerateSessions, with the user
// WTSQuerySessionInformation names (empty for the services session and
// idle consoles).
type Session struct {
	ID     uint32
	State  uint32
	User   string
	Domain string
}

// Process is one entry of the process list.
type Process struct {
	PID  uint32
	PPID uint32
	// Created is the creation time in 100 ns ticks since 1601 (FILETIME),
	// as the kernel keeps it: with PID, a unique key.
	Created int64
	// Image is the executable's base name ("cmd.exe").
	Image     string
	SessionID uint32
}

// Token is what a process's primary token says.
type Token struct {
	// User is the token user's SID.
	User string
	// Elevated is TokenElevation: the token holds its full rights (an
	// administrator past UAC, or a service).
	Elevated bool
	// ElevationType is TokenElevationType (ElevationTypeFull…).
	ElevationType uint32
}

// Detail is what is recorded about an elevated process.
type Detail struct {
	// Path is the full image path (QueryFullProcessImageName).
	Path string
	// Args is the command line split the way the C runtime splits it; nil
	// when it could not be read.
	Args []string
}

// filetimeEpoch is 1970-01-01 in FILETIME ticks.
const filetimeEpoch = 116444736000000000

// FiletimeToTime converts FILETIME ticks (Process.Created) to a time;
// zero ticks give the zero time.
func FiletimeToTime(ticks int64) time.Time {
	if ticks == 0 {
		return time.Time{}
	}
	return time.Unix(0, (ticks-filetimeEpoch)*100).UTC()
}

// TimeToFiletime is the inverse of FiletimeToTime.
func TimeToFiletime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()/100 + filetimeEpoch
}

// SIDLookup is the one call AdminsGroup makes.
type SIDLookup interface {
	LookupSID(sid string) (Account, error)
}

// AdminsGroup returns the name under which this machine knows
// BUILTIN\Administrators (the netapi group calls take a name, not a SID).
func AdminsGroup(l SIDLookup) (string, error) {
	a, err := l.LookupSID(AdministratorsSID)
	if err != nil {
		return "", fmt.Errorf("look up %s: %w", AdministratorsSID, err)
	}
	if a.Type != SidTypeAlias && a.Type != SidTypeWellKnownGroup || a.Name == "" {
		return "", fmt.Errorf("%s is %q of type %d, not a local group", AdministratorsSID, a.Qualified(), a.Type)
	}
	return a.Name, nil
}

// UserName is how the agent names a Windows account wherever a user name
// is shown or matched (the caller of the elevation pipe, inventory's
// logged-in user): the bare name for an account of this computer (its
// domain is the computer's name), DOMAIN\name for any other. A domain
// account is never shortened to its bare name: CORP\alice and the local
// alice are different accounts, and elevating one for the other would be a
// privilege mix-up. (The elevation code accepts only bare names of letters,
// digits and . - _ @, as the broker issues codes only for such names, so
// domain accounts and names with spaces are refused there.)
func UserName(name, domain, computer string) string {
	if domain == "" || strings.EqualFold(domain, computer) {
		return name
	}
	return domain + `\` + name
}

// CommandLine joins args into a Windows command line that
// CommandLineToArgvW (and Go's os.Args) splits back into args: each
// argument that is empty or holds a space, tab or quote is quoted, a quote
// escaped with a backslash, and backslashes doubled only where they
// precede a quote. The first argument is the program: quoted when it
// holds a space, an unquoted C:\Program Files\… would let C:\Program.exe
// run in its place.
func CommandLine(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = quoteArg(a)
	}
	return strings.Join(q, " ")
}

// quoteArg quotes s for a Windows command line (the rules of
// CommandLineToArgvW): double quotes around an argument that is empty or
// holds a space, tab or quote; a quote is escaped with a backslash, and
// backslashes are doubled only where they precede a quote.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			slashes++
		case '"':
			b.WriteString(strings.Repeat(`\`, slashes+1))
			slashes = 0
		default:
			slashes = 0
		}
		b.WriteByte(c)
	}
	b.WriteString(strings.Repeat(`\`, slashes))
	b.WriteByte('"')
	return b.String()
}
