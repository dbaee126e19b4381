// Package inventory describes the endpoint for the broker: hostname, OS,
// architecture, the logged-in user, the displays and how the screen is
// captured.
//
// What only the OS can tell comes from two functions in facts_GOOS.go:
//
//	osName() string                     // e.g. "Debian GNU/Linux 12 (bookworm)"
//	loggedInUser(ctx context.Context) string
package inventory

import (
	"context"
	"os"
	"runtime"
	"strings"

	"porthole/internal/wire"
)

// Collect gathers the inventory. displays may be nil (no graphical
// session), and capture (the screen capture method, e.g. "gdi") too.
func Collect(ctx context.Context, displays func() ([]wire.Display, error), capture func() string) wire.Inventory {
	inv := wire.Inventory{OS: osName(), Arch: runtime.GOARCH, User: loggedInUser(ctx)}
	inv.Hostname, _ = os.Hostname()
	if displays != nil {
		if d, err := displays(); err == nil {
			inv.Displays = d
		}
	}
	if capture != nil {
		inv.Capture = capture()
	}
	return sanitize(inv)
}

// sanitize keeps values within what the wire validator accepts, so an odd
// hostname never stops an agent from connecting.
func sanitize(inv wire.Inventory) wire.Inventory {
	clip := func(s string, n int) string {
		s = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, strings.ToValidUTF8(s, "?"))
		if len(s) > n {
			s = s[:n]
		}
		return strings.ToValidUTF8(s, "")
	}
	inv.Hostname, inv.OS, inv.Arch, inv.User = clip(inv.Hostname, 255), clip(inv.OS, 128), clip(inv.Arch, 32), clip(inv.User, 128)
	if inv.Hostname == "" {
		inv.Hostname = "unknown"
	}
	if len(inv.Displays) > 16 {
		inv.Displays = inv.Displays[:16]
	}
	if (&wire.Inventory{Capture: inv.Capture}).Validate() != nil {
		inv.Capture = ""
	}
	return inv
}
