package elevation

// Windows: grants are adminsGroup (wingroup.go) and recording is
// tokenSource (proc_token.go), both unit-tested on every OS against
// winlocaltest.Machine; this file plugs in the real Win32 calls.

import (
	"log/slog"

	"porthole/agent/winlocal"
)

var (
	_ groups = winlocal.Win32{}
	_ tokens = winlocal.Win32{}
)

func newSystem(_ Config, log *slog.Logger) (system, error) {
	return adminsGroup{api: winlocal.Win32{}, log: log}, nil
}

func newProcSource() (procSource, error) { return newTokenSource(winlocal.Win32{}), nil }
