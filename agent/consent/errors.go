package consent

import "errors"

// Sentinel errors. Every error an Asker returns comes with Declined, so a
// caller that only looks at the Answer still fails closed.
var (
	// ErrNoRequester means the request did not say who is asking; the end
	// user must always be told who will see the screen.
	ErrNoRequester = errors.New("consent: request has no requester name")
	// ErrNoDisplay means no X display was configured or it could not be opened.
	ErrNoDisplay = errors.New("consent: no usable display")
	// ErrNoZenity means the zenity binary is not installed.
	ErrNoZenity = errors.New("consent: zenity not found")
	// ErrDialog means the dialog program failed (crashed, bad exit status).
	ErrDialog = errors.New("consent: dialog failed")
	// ErrInputClosed means the terminal's input ended, so nobody can answer.
	ErrInputClosed = errors.New("consent: terminal input closed")
	// ErrBusy means the terminal is already waiting for an answer or showing
	// a session; one terminal serves one question or session at a time.
	ErrBusy = errors.New("consent: terminal busy")
	// ErrCancelled means the end user cancelled a form (or let it time out).
	ErrCancelled = errors.New("consent: cancelled by the end user")
)
