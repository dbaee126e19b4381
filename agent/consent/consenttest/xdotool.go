package consenttest

import (
	"testing"

	"porthole/agent/consent"
	"porthole/internal/xdotool"
)

// How to drive zenity (GTK 3) dialogs with xdotool on a bare Xvfb (see
// internal/xdotool for focus and input in general), found by trying on this
// machine:
//   - The question's buttons are labelled _Yes/_No (zenity --question takes
//     mnemonics), so Alt+Y and Alt+N press them whatever the layout. Enter
//     presses No: it is the default button, on purpose.
//   - zenity --info shows its --ok-label literally ("_Done" would show the
//     underscore), so the indicator's only button, Done, is pressed with
//     Enter (it is the default).
//
// The Windows dialogs (consent.Dialogs, under Wine) take the same keys: the
// MessageBox's &Yes/&No answer Alt+Y/Alt+N (and Y/N) with No the default,
// Enter presses Done once the indicator is focused (it does not take the
// focus when shown; xdotool's windowfocus gives it), and the form's tab
// order is zenity's (fields, Cancel, OK).

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
	xdotool.Press(t, display, consent.DialogTitle, key)
}

// PressDone presses Done on the session indicator on display, and waits for
// the indicator to go away.
func PressDone(t testing.TB, display string) {
	t.Helper()
	xdotool.Press(t, display, consent.IndicatorTitle, "Return")
}

// Dismiss presses Enter (the default button, OK) on the window titled
// title, such as a support request's outcome, and waits for it to go away.
func Dismiss(t testing.TB, display, title string) {
	t.Helper()
	xdotool.Press(t, display, title, "Return")
}

// FillForm types values into the request form's entries on display, in
// order, and presses OK (submit; values must fill every entry) or Escape
// (cancel); it waits for the form to go away. Enter in an entry does not
// submit a zenity form: after the last entry, Tab reaches Cancel and a
// second Tab reaches OK.
func FillForm(t testing.TB, display string, values []string, submit bool) {
	t.Helper()
	id := WaitWindow(t, display, consent.FormTitle)
	xdotool.Focus(t, display, id)
	for i, v := range values {
		if v != "" {
			if _, err := xdotool.Run(display, "type", "--delay", "10", v); err != nil {
				t.Fatalf("consenttest: type into the form: %v", err)
			}
		}
		if i < len(values)-1 {
			if _, err := xdotool.Run(display, "key", "Tab"); err != nil {
				t.Fatalf("consenttest: Tab: %v", err)
			}
		}
	}
	keys := []string{"key", "Escape"}
	if submit {
		keys = []string{"key", "Tab", "Tab", "Return"}
	}
	if _, err := xdotool.Run(display, keys...); err != nil {
		t.Fatalf("consenttest: leave the form: %v", err)
	}
	WaitGone(t, display, consent.FormTitle)
}

// WaitWindow waits until a visible window titled exactly title is on display
// and returns its id.
func WaitWindow(t testing.TB, display, title string) string {
	t.Helper()
	return xdotool.WaitWindow(t, display, title)
}

// WaitGone waits until no visible window titled title is on display, and
// fails the test after 15 s.
func WaitGone(t testing.TB, display, title string) {
	t.Helper()
	xdotool.WaitGone(t, display, title)
}

// Visible reports whether a visible window titled exactly title is on display.
func Visible(t testing.TB, display, title string) bool {
	t.Helper()
	return xdotool.Visible(t, display, title)
}
