//go:build !linux

package elevsock

import (
	"fmt"
	"net"
)

// peerUID is Linux-only for now (macOS: LOCAL_PEERCRED; Windows: a named
// pipe's client token).
func peerUID(net.Conn) (int, error) {
	return -1, fmt.Errorf("%w: not implemented on this platform", ErrPeer)
}
