// Package inventory describes the endpoint for the broker: hostname, OS,
// architecture, the logged-in user and the displays.
package inventory

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strings"
	"time"

	"porthole/internal/wire"
)

// Collect gathers the inventory. displays may be nil (no graphical session).
func Collect(ctx context.Context, displays func() ([]wire.Display, error)) wire.Inventory {
	inv := wire.Inventory{OS: osName(), Arch: runtime.GOARCH, User: loggedInUser(ctx)}
	inv.Hostname, _ = os.Hostname()
	if displays != nil {
		if d, err := displays(); err == nil {
			inv.Displays = d
		}
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
	return inv
}

func osName() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

// loggedInUser returns the user of the active graphical or console session
// (loginctl, then who), falling back to the agent's own user.
func loggedInUser(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "loginctl", "list-sessions", "--no-legend").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) >= 3 {
				return f[2]
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "who").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) > 0 {
			return f[0]
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
