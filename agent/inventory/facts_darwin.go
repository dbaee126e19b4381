package inventory

// macOS: compiled, not run on this machine.

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// osName is "macOS" and the version sw_vers reports.
func osName() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sw_vers", "-productVersion").Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return "macOS " + v
	}
	return "macOS"
}

// loggedInUser is the owner of /dev/console (the user at the screen),
// falling back to the agent's own user.
func loggedInUser(context.Context) string {
	if fi, err := os.Stat("/dev/console"); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			if u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10)); err == nil {
				return u.Username
			}
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
