// Package xdotool finds, focuses and answers X windows in tests with the
// xdotool program, on a private display with no window manager (Xvfb). It
// serves zenity dialogs (agent/consent) and Wine windows (internal/wine)
// alike.
//
// What works on a bare Xvfb, found by trying on this machine:
//   - There is no window manager, so nothing has keyboard focus (focus is
//     PointerRoot) and `xdotool key --window W` does not work: it uses
//     XSendEvent and toolkits (GTK, Wine) ignore those synthetic events.
//   - `xdotool windowfocus --sync W` (XSetInputFocus) followed by a plain
//     `xdotool key` (XTEST, real events) works every time.
//   - The window must be mapped first: search with --onlyvisible.
//   - xdotool prints "XGetInputFocus returned the focused window of 1" on
//     stderr while focus is PointerRoot; it is harmless.
//
// A missing xdotool fails the test: make test installs it.
package xdotool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// WaitLimit bounds every xdotool call (`search --sync` otherwise waits
// forever) and every wait for a window to go away.
const WaitLimit = 15 * time.Second

// Run runs xdotool with args on display (":N") and returns its stdout. It
// gives up after WaitLimit.
func Run(display string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "xdotool", args...)
	env := []string{"DISPLAY=" + display}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return "", fmt.Errorf("xdotool %s: timed out after %v", strings.Join(args, " "), WaitLimit)
	}
	if err != nil {
		return string(out), fmt.Errorf("xdotool %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// WaitWindow waits until a visible window titled exactly title is on display
// and returns its id; it fails the test after WaitLimit. It polls every
// 50 ms (`search --sync` polls only once a second).
func WaitWindow(t testing.TB, display, title string) string {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for {
		if id := find(t, display, title); id != "" {
			return id
		}
		if time.Now().After(deadline) {
			t.Fatalf("xdotool: no window %q on %s after %v", title, display, WaitLimit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitGone waits until no visible window titled title is on display, and
// fails the test after WaitLimit.
func WaitGone(t testing.TB, display, title string) {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for Visible(t, display, title) {
		if time.Now().After(deadline) {
			t.Fatalf("xdotool: window %q still on %s after %v", title, display, WaitLimit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Visible reports whether a visible window titled exactly title is on display.
func Visible(t testing.TB, display, title string) bool {
	t.Helper()
	return find(t, display, title) != ""
}

// find returns the id of a visible window titled exactly title, or "".
func find(t testing.TB, display, title string) string {
	t.Helper()
	out, err := Run(display, "search", "--onlyvisible", "--name", TitleRegexp(title))
	var ee *exec.ExitError
	switch {
	case err == nil:
		id, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
		return id
	case errors.As(err, &ee) && ee.ExitCode() == 1: // xdotool: nothing found
		return ""
	}
	t.Fatalf("xdotool: search on %s: %v", display, err)
	return ""
}

// Focus gives window id on display the keyboard focus, so that Key and Type
// reach it.
func Focus(t testing.TB, display, id string) {
	t.Helper()
	if _, err := Run(display, "windowfocus", "--sync", id); err != nil {
		t.Fatalf("xdotool: focus window %s on %s: %v", id, display, err)
	}
}

// Key presses key (xdotool syntax: "Return", "alt+y") on display, as real
// input to the focused window.
func Key(t testing.TB, display, key string) {
	t.Helper()
	if _, err := Run(display, "key", "--clearmodifiers", key); err != nil {
		t.Fatalf("xdotool: key %s on %s: %v", key, display, err)
	}
}

// Press waits for the window titled title, focuses it, presses key and waits
// for the window to go away.
func Press(t testing.TB, display, title, key string) {
	t.Helper()
	id := WaitWindow(t, display, title)
	Focus(t, display, id)
	Key(t, display, key)
	WaitGone(t, display, title)
}

// TitleRegexp matches the whole title; xdotool --name takes a regexp.
func TitleRegexp(title string) string {
	var b strings.Builder
	b.WriteByte('^')
	for _, r := range title {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('$')
	return b.String()
}
