// Package localsock opens the agent's local Unix sockets, through which
// unprivileged programs on the endpoint reach the agent (the elevation
// socket of `porthole-agent elevate`, the support-request socket). Who may
// do what is decided per request by the servers, so the socket itself is
// open to every local user.
package localsock

import (
	"net"
	"os"
)

// Listen listens on a Unix socket at path that every local user may connect
// to (mode 0666). A socket file left at path by a previous run is replaced.
// Errors are returned unwrapped for the caller to name its socket.
func Listen(path string) (net.Listener, error) {
	_ = os.Remove(path) // a stale socket from a previous run
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
