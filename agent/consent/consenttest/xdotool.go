package consenttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"porthole/agent/consent"
)

// How to drive zenity (GTK 3) dialogs with xdotool on a bare Xvfb, found by
// trying on this machine:
//   - There is no window manager, so nothing has keyboard focus (focus is
//     PointerRoot) and `xdotool key --window W` does not work: it uses
//     XSendEvent and GTK ignores those synthetic key events.
//   - `xdotool windowfocus --sync W` (XSetInputFocus) followed by a plain
//     `xdotool key` (XTEST, real events) works every time.
//   - The window must be mapped first: search with --onlyvisible.
//   - The question's buttons are labelled _Yes/_No (zenity --question takes
//     mnemonics), so Alt+Y and Alt+N press them whatever the layout. Enter
//     presses No: it is the default button, on purpose.
//   - zenity --info shows its --ok-label literally ("_Done" would show the
//     underscore), so the indicator's only button, Done, is pressed with
//     Enter (it is the default).
//   - xdotool prints "XGetInputFocus returned the focused window of 1" on
//     stderr while focus is PointerRoot; it is harmless.

// waitLimit bounds every xdotool call: `search --sync` otherwise waits forever.
const waitLimit = 15 * time.Second

// Press answers the consent dialog on display (":N"): Allowed presses Yes,
// Declined presses No. It waits for the dialog to appear and then to go away,
// and fails the test if either does not happen.
func Press(t testing.TB, display string, a consent.Answer) {
	t.Helper()
	var key string
	switch a {
	case consent.Allowed:
		key = "alt+y"
	case consent.Declined:
		key = "alt+n"
	default:
		t.Fatalf("consenttest.Press: can only press Allowed or Declined, not %v", a)
	}
	press(t, display, consent.DialogTitle, key)
}

// PressDone presses Done on the session indicator on display, and waits for
// the indicator to go away.
func PressDone(t testing.TB, display string) {
	t.Helper()
	press(t, display, consent.IndicatorTitle, "Return")
}

// Dismiss presses Enter (the default button, OK) on the window titled
// title, such as a support request's outcome, and waits for it to go away.
func Dismiss(t testing.TB, display, title string) {
	t.Helper()
	press(t, display, title, "Return")
}

// FillForm types values into the request form's entries on display, in
// order, and presses OK (submit; values must fill every entry) or Escape
// (cancel); it waits for the form to go away. Enter in an entry does not
// submit a zenity form: after the last entry, Tab reaches Cancel and a
// second Tab reaches OK.
func FillForm(t testing.TB, display string, values []string, submit bool) {
	t.Helper()
	id := WaitWindow(t, display, consent.FormTitle)
	if _, err := xdotool(display, "windowfocus", "--sync", id); err != nil {
		t.Fatalf("consenttest: focus the form on %s: %v", display, err)
	}
	for i, v := range values {
		if v != "" {
			if _, err := xdotool(display, "type", "--delay", "10", v); err != nil {
				t.Fatalf("consenttest: type into the form: %v", err)
			}
		}
		if i < len(values)-1 {
			if _, err := xdotool(display, "key", "Tab"); err != nil {
				t.Fatalf("consenttest: Tab: %v", err)
			}
		}
	}
	keys := []string{"key", "Escape"}
	if submit {
		keys = []string{"key", "Tab", "Tab", "Return"}
	}
	if _, err := xdotool(display, keys...); err != nil {
		t.Fatalf("consenttest: leave the form: %v", err)
	}
	WaitGone(t, display, consent.FormTitle)
}

// WaitWindow waits until a visible window titled exactly title is on display
// and returns its id.
func WaitWindow(t testing.TB, display, title string) string {
	t.Helper()
	out, err := xdotool(display, "search", "--sync", "--onlyvisible", "--name", titleRegexp(title))
	if err != nil {
		t.Fatalf("consenttest: no window %q on %s: %v", title, display, err)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	return id
}

// WaitGone waits until no visible window titled title is on display, and
// fails the test after 15 s.
func WaitGone(t testing.TB, display, title string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for Visible(t, display, title) {
		if time.Now().After(deadline) {
			t.Fatalf("consenttest: window %q still on %s after %v", title, display, waitLimit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Visible reports whether a visible window titled exactly title is on display.
func Visible(t testing.TB, display, title string) bool {
	t.Helper()
	out, err := xdotool(display, "search", "--onlyvisible", "--name", titleRegexp(title))
	var ee *exec.ExitError
	switch {
	case err == nil:
		return strings.TrimSpace(out) != ""
	case errors.As(err, &ee) && ee.ExitCode() == 1: // xdotool: nothing found
		return false
	}
	t.Fatalf("consenttest: xdotool search on %s: %v", display, err)
	return false
}

func press(t testing.TB, display, title, key string) {
	t.Helper()
	id := WaitWindow(t, display, title)
	if _, err := xdotool(display, "windowfocus", "--sync", id); err != nil {
		t.Fatalf("consenttest: focus %q (%s) on %s: %v", title, id, display, err)
	}
	if _, err := xdotool(display, "key", "--clearmodifiers", key); err != nil {
		t.Fatalf("consenttest: key %s on %s: %v", key, display, err)
	}
	WaitGone(t, display, title)
}

// titleRegexp matches the whole title; xdotool --name takes a regexp.
func titleRegexp(title string) string {
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

func xdotool(display string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
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
		return "", fmt.Errorf("xdotool %s: timed out after %v", strings.Join(args, " "), waitLimit)
	}
	if err != nil {
		return string(out), fmt.Errorf("xdotool %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
