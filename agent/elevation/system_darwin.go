//go:build darwin

package elevation

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"
)

// adminGroup grants by membership of the admin group (dseditgroup).
type adminGroup struct{ log *slog.Logger }

func newSystem(_ Config, log *slog.Logger) (system, error) {
	if _, err := exec.LookPath("dseditgroup"); err != nil {
		return nil, fmt.Errorf("%w: dseditgroup", ErrMissingTool)
	}
	return adminGroup{log: log}, nil
}

func (adminGroup) lookup(_ context.Context, name string) (string, error) {
	return lookupUID(name)
}

func (adminGroup) grant(ctx context.Context, name, _ string, _ time.Time) error {
	return dsedit(ctx, "-a", name)
}

func (adminGroup) revoke(ctx context.Context, name, _ string) error {
	if err := exec.CommandContext(ctx, "dseditgroup", "-o", "checkmember", "-m", name, "admin").Run(); err != nil {
		return nil // not a member
	}
	return dsedit(ctx, "-d", name)
}

// granted cannot tell porthole's admins from others on macOS: the journal
// alone drives revocation there.
func (adminGroup) granted(context.Context, map[string]string) ([]string, error) { return nil, nil }

func dsedit(ctx context.Context, op, name string) error {
	out, err := exec.CommandContext(ctx, "dseditgroup", "-o", "edit", op, name, "-t", "user", "admin").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: dseditgroup: %s", ErrSystem, strings.TrimSpace(string(out)))
	}
	return nil
}
