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
)

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
