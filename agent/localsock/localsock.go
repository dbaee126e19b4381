// Package localsock is the agent's local IPC: how unprivileged programs on
// the endpoint (`porthole-agent elevate`, `request-admin`,
// `request-support`) reach the agent service, and how the service learns
// which account is calling. Who may do what is decided per request by the
// servers (elevsock, request), so every local user may connect.
//
// One implementation per OS: Unix sockets on Linux and macOS
// (localsock_unix.go; the caller's account from SO_PEERCRED on Linux), and
// named pipes on Windows (localsock_windows.go: a DACL admitting interactive
// users, first-instance creation, no remote clients, the caller's account
// from its process token; pipesec.go builds the DACLs). The three
// functions below are the whole seam:
//
//	Listen(path string) (net.Listener, error)
//	Dial(ctx context.Context, path string) (net.Conn, error)
//	PeerUser(c net.Conn) (string, error)
//
// Windows adds ListenPrivate(path, userSID) and PeerSID for the pipe between
// the service and its helper in the user's session (agent/winhelper).
package localsock

import "errors"

// Errors of PeerUser, matched with errors.Is.
var (
	// ErrPeer means the calling process's identity could not be read.
	ErrPeer = errors.New("localsock: cannot identify the calling user")
	// ErrUnknownUser means the caller's account has no name on this machine.
	ErrUnknownUser = errors.New("localsock: the calling account is not known")
)
