//go:build linux

package elevation

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"porthole/internal/durable"
)

// DropInPrefix starts the name of every sudoers drop-in this package
// writes; Reconcile removes any such file the journal does not know.
const DropInPrefix = "porthole-"

// sudoers grants with a drop-in in dir.
type sudoers struct {
	dir         string
	visudo      string
	askPassword bool
	log         *slog.Logger
}

func newSystem(cfg Config, log *slog.Logger) (system, error) {
	visudo, err := exec.LookPath("visudo")
	if err != nil {
		return nil, fmt.Errorf("%w: visudo (Debian package sudo)", ErrMissingTool)
	}
	return &sudoers{dir: cfg.SudoersDir, visudo: visudo, askPassword: cfg.AskPassword, log: log}, nil
}

// DropInName is the file name of user's drop-in. sudo skips names with a
// '.' (and ending in '~'), so names outside [A-Za-z0-9_-] are hex-encoded
// after a second dash, which no plain name can start with.
func DropInName(userName string) string {
	plain := true
	for _, r := range userName {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			plain = false
			break
		}
	}
	if plain && !strings.HasPrefix(userName, "-") {
		return DropInPrefix + userName
	}
	return DropInPrefix + "-" + hex.EncodeToString([]byte(userName))
}

// userFromDropIn inverts DropInName.
func userFromDropIn(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, DropInPrefix)
	if !ok || rest == "" {
		return "", false
	}
	if h, ok := strings.CutPrefix(rest, "-"); ok {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) == 0 {
			return "", false
		}
		return string(b), true
	}
	return rest, true
}

func (s *sudoers) lookup(_ context.Context, name string) (string, error) {
	return lookupUID(name)
}

// grant writes the drop-in next to its final place under a name sudo
// ignores, validates it with visudo, then renames it into place, so an
// invalid file is never live. The rule names the uid (#1001), which avoids
// any sudoers quoting of the name and cannot be read as an alias or ALL.
func (s *sudoers) grant(ctx context.Context, name, uid string, until time.Time) error {
	tag := "NOPASSWD: "
	if s.askPassword {
		tag = ""
	}
	content := fmt.Sprintf("# Managed by porthole-agent: temporary admin rights for %s until %s.\n"+
		"# Removed at expiry by the agent; do not edit.\n"+
		"#%s ALL=(ALL:ALL) %sALL\n", name, until.UTC().Format(time.RFC3339), uid, tag)
	check := func(tmp string) error {
		if out, err := exec.CommandContext(ctx, s.visudo, "-cf", tmp).CombinedOutput(); err != nil {
			return fmt.Errorf("%w: %s", ErrInvalidSudoers, strings.TrimSpace(string(out)))
		}
		return nil
	}
	err := durable.WriteChecked(filepath.Join(s.dir, DropInName(name)), []byte(content), 0o440, check)
	if err != nil && !errors.Is(err, ErrInvalidSudoers) {
		return fmt.Errorf("%w: %w", ErrSystem, err)
	}
	return err
}

func (s *sudoers) revoke(_ context.Context, name, _ string) error {
	err := os.Remove(filepath.Join(s.dir, DropInName(name)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", ErrSystem, err)
	}
	if err := durable.SyncDir(s.dir); err != nil {
		return fmt.Errorf("%w: %w", ErrSystem, err)
	}
	return nil
}

// granted lists the users of porthole drop-ins and deletes temporary files
// a crash left behind (only grant creates them, under the Manager's lock,
// which the caller holds). Every porthole- drop-in is porthole's, so the
// journal's view is not needed.
func (s *sudoers) granted(context.Context, map[string]string) ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSystem, err)
	}
	var users []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "."+DropInPrefix) {
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
				s.log.Warn("remove leftover sudoers temp file", "file", name, "err", err)
			}
			continue
		}
		if u, ok := userFromDropIn(name); ok {
			users = append(users, u)
		}
	}
	return users, nil
}
