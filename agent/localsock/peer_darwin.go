package localsock

import (
	"errors"
	"fmt"
	"net"
)

// PeerUser is not built for macOS yet (it would read LOCAL_PEERCRED), so
// the elevation socket cannot tell who calls and refuses everyone.
func PeerUser(net.Conn) (string, error) {
	return "", fmt.Errorf("%w: not supported on macOS yet: %w", ErrPeer, errors.ErrUnsupported)
}
