//go:build linux || darwin

package localsock

import (
	"context"
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

// Dial connects to the agent's socket at path.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}
