// Package consent asks the end user before any pixel leaves the machine, and
// shows them, for as long as a session runs, who is watching and a Done button
// that ends it.
//
// An Asker poses the question ("Alice wants to view and control your screen.
// Allow?") and returns an Answer; no answer within the timeout counts as No.
// An Indicator shows the running session. Implementations: Zenity (a desktop
// dialog on a given X display; zenity_linux.go), Dialogs (Windows dialogs on
// the user's desktop; dialogs_windows.go), Terminal (a console, for
// machines without a display; every OS) and Policy (unattended mode, which
// answers without asking). Zenity and Dialogs also show the support-request
// form and outcome notices, with the same titles and keys, so consenttest
// answers both. Fakes live in consenttest.
package consent

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultTimeout is how long the end user has to answer when a Request sets
// no Timeout. Silence is a No.
const DefaultTimeout = 60 * time.Second

// maxNameRunes bounds the requester name shown to the user, so a long name
// cannot push the question off the dialog.
const maxNameRunes = 64

// Window titles of the desktop dialogs, the same on every OS; tests and
// end-to-end harnesses find the windows by these names.
const (
	DialogTitle    = "Porthole"
	IndicatorTitle = "Porthole: screen shared"
	FormTitle      = "Porthole: request support"
	OutcomeTitle   = "Porthole: support request"
)

// Request says who wants the screen and how.
type Request struct {
	// Requester is the portal user's display name, shown verbatim (control
	// characters removed, at most 64 characters).
	Requester string
	// ViewOnly is true when the requester will only watch, not control.
	ViewOnly bool
	// Timeout is how long to wait for an answer; zero means DefaultTimeout.
	Timeout time.Duration
}

// Answer is the outcome of asking. The zero value is Declined, so a
// forgotten assignment never grants access.
type Answer int

// Answers. Only Allowed and Unattended grant access (see Granted).
const (
	// Declined: the user said No, closed the dialog, or asking failed.
	Declined Answer = iota
	// Allowed: the user said Yes.
	Allowed
	// TimedOut: nobody answered in time; treated as No.
	TimedOut
	// Unattended: policy allows access without asking (servers with nobody
	// at the screen); the caller must log this explicitly.
	Unattended
)

// String names the answer for logs and audit events.
func (a Answer) String() string {
	switch a {
	case Declined:
		return "declined"
	case Allowed:
		return "allowed"
	case TimedOut:
		return "timed_out"
	case Unattended:
		return "unattended"
	}
	return fmt.Sprintf("answer(%d)", int(a))
}

// Granted reports whether the session may start.
func (a Answer) Granted() bool { return a == Allowed || a == Unattended }

// Asker asks the end user for consent. Ask blocks until an answer, the
// request's timeout, or ctx ends (then it returns ctx.Err()). On any error the
// Answer is Declined.
type Asker interface {
	Ask(ctx context.Context, req Request) (Answer, error)
}

// Indicator shows the end user that a session is running, with a way to end
// it. done is closed when the user ends the session (Done, closing the
// window, or the indicator failing: the user must never be left without a
// way to stop sharing, so a lost indicator ends the session). stop removes the
// indicator when the session ends some other way; it is idempotent, waits
// for everything Show started, and done is not closed by it. Cancelling ctx
// has the same effect as stop.
type Indicator interface {
	Show(ctx context.Context, req Request) (done <-chan struct{}, stop func(), err error)
}

// normalize checks req and fills defaults.
func (req Request) normalize() (Request, error) {
	req.Requester = cleanName(req.Requester)
	if req.Requester == "" {
		return req, ErrNoRequester
	}
	if req.Timeout <= 0 {
		req.Timeout = DefaultTimeout
	}
	return req, nil
}

// Question is the text the end user is asked.
func (req Request) Question() string {
	what := "view and control"
	if req.ViewOnly {
		what = "view"
	}
	return fmt.Sprintf("%s wants to %s your screen. Allow?", cleanName(req.Requester), what)
}

// Notice is the text the session indicator shows.
func (req Request) Notice() string {
	how := ""
	if !req.ViewOnly {
		how = " (they can also control it)"
	}
	return fmt.Sprintf("Your screen is being shared with %s%s. Done ends it.", cleanName(req.Requester), how)
}

// cleanName drops control and format characters (newlines, bidi overrides)
// that could make the question say something else, collapses spaces, and
// bounds the length.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError:
			return -1
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxNameRunes {
		s = string([]rune(s)[:maxNameRunes-1]) + "…"
	}
	return s
}
