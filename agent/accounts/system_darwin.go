package accounts

// macOS: compiled, not tested on this machine. Accounts are made with dscl
// in interactive mode, so the password goes through stdin rather than argv,
// and deleted with sysadminctl, which also removes the home directory.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// firstUID is where macOS starts regular users' ids.
const firstUID = 501

var darwinTools = []string{"dscl", "dseditgroup", "createhomedir", "sysadminctl", "pkill", "pgrep", "last", "launchctl"}

type darwinSystem struct {
	log   *slog.Logger
	tools map[string]string
}

func newSystem(log *slog.Logger, root string) (system, error) {
	if root != "" {
		return nil, fmt.Errorf("%w: Root is supported on Linux only", ErrConfig)
	}
	s := &darwinSystem{log: log, tools: map[string]string{}}
	for _, t := range darwinTools {
		p, err := exec.LookPath(t)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrMissingTool, t)
		}
		s.tools[t] = p
	}
	return s, nil
}

func (s *darwinSystem) run(ctx context.Context, stdin, tool string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.tools[tool], args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s: %v: %s", ErrSystem, tool, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func (s *darwinSystem) exists(_ context.Context, name string) (bool, error) {
	return userOrGroupExists(name)
}

func (s *darwinSystem) adminGroup(context.Context) (string, error) {
	if _, err := user.LookupGroup("admin"); err != nil {
		return "", fmt.Errorf("%w: group admin: %v", ErrNoAdminGroup, err)
	}
	return "admin", nil
}

// freeUID returns one more than the highest uid in use, at least firstUID.
func (s *darwinSystem) freeUID(ctx context.Context) (int, error) {
	out, err := s.run(ctx, "", "dscl", ".", "-list", "/Users", "UniqueID")
	if err != nil {
		return 0, err
	}
	next := firstUID
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if id, err := strconv.Atoi(f[1]); err == nil && id >= next {
			next = id + 1
		}
	}
	return next, nil
}

// create ignores expires: macOS has no per-account expiry date that the
// login window enforces; the journal is the only deadline.
func (s *darwinSystem) create(ctx context.Context, name, password, group string, _ time.Time) error {
	uid, err := s.freeUID(ctx)
	if err != nil {
		return err
	}
	home := "/Users/" + name
	script := strings.Join([]string{
		"create /Users/" + name,
		"create /Users/" + name + " UserShell /bin/zsh",
		"create /Users/" + name + ` RealName "Porthole break glass"`,
		"create /Users/" + name + " UniqueID " + strconv.Itoa(uid),
		"create /Users/" + name + " PrimaryGroupID 20",
		"create /Users/" + name + " NFSHomeDirectory " + home,
		"passwd /Users/" + name + " " + password,
		"quit",
	}, "\n") + "\n"
	if _, err := s.run(ctx, script, "dscl", "."); err != nil {
		return err
	}
	if _, err := s.run(ctx, "", "createhomedir", "-c", "-u", name); err != nil {
		return err
	}
	_, err = s.run(ctx, "", "dseditgroup", "-o", "edit", "-a", name, "-t", "user", group)
	return err
}

func (s *darwinSystem) remove(ctx context.Context, name string) error {
	u, err := user.Lookup(name)
	if errors.As(err, new(user.UnknownUserError)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: look up user %s: %w", ErrSystem, name, err)
	}
	if _, err := s.run(ctx, "", "launchctl", "bootout", "user/"+u.Uid); err != nil {
		s.log.Info("launchctl bootout", "user", name, "err", err)
	}
	for range killRoundsDarwin {
		if _, err := s.run(ctx, "", "pgrep", "-u", u.Uid); err != nil {
			break // exit 1: no process left
		}
		_, _ = s.run(ctx, "", "pkill", "-KILL", "-u", u.Uid)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	_, err = s.run(ctx, "", "sysadminctl", "-deleteUser", name)
	return err
}

// killRoundsDarwin bounds the kill loop.
const killRoundsDarwin = 50

// usage: active when pgrep finds a process of the user; logged in when
// last(1) lists a session of the name (a fresh random name has no history).
func (s *darwinSystem) usage(ctx context.Context, name string) (active, loggedIn bool, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return false, false, fmt.Errorf("%w: look up user %s: %w", ErrSystem, name, err)
	}
	_, perr := s.run(ctx, "", "pgrep", "-u", u.Uid)
	out, err := s.run(ctx, "", "last", name)
	if err != nil {
		return false, false, err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			loggedIn = true
		}
	}
	return perr == nil, loggedIn, nil
}
