package accounts

// Windows: the sequencing is winsystem.go (unit-tested on every OS against
// winlocaltest.Machine); this file plugs in the real Win32 calls.

import (
	"fmt"
	"log/slog"

	"porthole/agent/winlocal"
)

var _ winAPI = winlocal.Win32{}

func newSystem(log *slog.Logger, root string) (system, error) {
	if root != "" {
		return nil, fmt.Errorf("%w: Root is supported on Linux only", ErrConfig)
	}
	return newWinSystem(winlocal.Win32{}, log), nil
}
