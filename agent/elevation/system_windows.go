//go:build windows

package elevation

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"os/user"
	"strings"
	"time"
)

// adminGroups grants by membership of the local Administrators group
// (addressed by its well-known SID, so localized names do not matter).
type adminGroups struct{ log *slog.Logger }

func newSystem(_ Config, log *slog.Logger) (system, error) { return adminGroups{log: log}, nil }

func (adminGroups) lookup(_ context.Context, name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadUser, err)
	}
	return u.Uid, nil // a SID
}

func (adminGroups) grant(ctx context.Context, name, _ string, _ time.Time) error {
	return powershell(ctx, fmt.Sprintf("Add-LocalGroupMember -SID S-1-5-32-544 -Member '%s' -ErrorAction Stop", psQuote(name)), "already a member")
}

func (adminGroups) revoke(ctx context.Context, name string) error {
	return powershell(ctx, fmt.Sprintf("Remove-LocalGroupMember -SID S-1-5-32-544 -Member '%s' -ErrorAction Stop", psQuote(name)), "was not found")
}

// granted cannot tell porthole's members from others on Windows: the
// journal alone drives revocation there.
func (adminGroups) granted(context.Context) ([]string, error) { return nil, nil }

// powershell runs script; output containing benign counts as success.
func powershell(ctx context.Context, script, benign string) error {
	out, err := exec.CommandContext(ctx, "powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script).CombinedOutput()
	if err != nil && !strings.Contains(strings.ToLower(string(out)), benign) {
		return fmt.Errorf("%w: %s", ErrSystem, strings.TrimSpace(string(out)))
	}
	return nil
}

func psQuote(s string) string { return strings.ReplaceAll(s, "'", "''") }
