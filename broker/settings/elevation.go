package settings

import (
	"fmt"
	"strings"
)

// Temporary admin code (elevation) keys.
const (
	// ElevationMaxMinutes bounds the length of a temporary admin code
	// (minutes, 5..640, default 60).
	ElevationMaxMinutes = "elevation.max_minutes"
	// ElevationSelfApproveGroups lists local groups whose members may
	// elevate themselves after giving a reason (comma-separated; default
	// none).
	ElevationSelfApproveGroups = "elevation.self_approve_groups"
)

func init() {
	specs[ElevationMaxMinutes] = spec{"60", intRange(5, 640), "Longest elevation a temporary admin code may grant, in minutes"}
	specs[ElevationSelfApproveGroups] = spec{"", text(groupList),
		"Local groups whose members may elevate themselves after giving a reason (comma-separated; empty = nobody)"}
}

// groupList accepts comma-separated local or directory group names.
func groupList(v string) error {
	if v == "" {
		return nil
	}
	for _, g := range strings.Split(v, ",") {
		g = strings.TrimSpace(g)
		if g == "" || len(g) > 64 || g[0] == '-' {
			return fmt.Errorf("%w: want comma-separated group names", ErrBadValue)
		}
		for _, c := range g {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(`.-_@\`, c)) {
				return fmt.Errorf("%w: group %q has character %q", ErrBadValue, g, c)
			}
		}
	}
	return nil
}
