package localsock

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// On Windows the agent's local IPC will be named pipes whose ACL admits
// the callers (issue #17); until they are built every call fails.
var errNoPipes = fmt.Errorf("local named pipes are not yet built for Windows: %w", errors.ErrUnsupported)

// Listen is not yet built for Windows.
func Listen(string) (net.Listener, error) { return nil, errNoPipes }

// Dial is not yet built for Windows.
func Dial(context.Context, string) (net.Conn, error) { return nil, errNoPipes }

// PeerUser is not yet built for Windows.
func PeerUser(net.Conn) (string, error) { return "", fmt.Errorf("%w: %w", ErrPeer, errNoPipes) }
