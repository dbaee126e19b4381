package input

import "errors"

// Errors returned by the injectors (Robot, SendInput), matched with errors.Is.
var (
	// ErrViewOnly refuses an event because the session is view-only. The
	// broker drops such events too; this is the agent's own check.
	ErrViewOnly = errors.New("input: session is view-only")
	// ErrClosed refuses an event after Close.
	ErrClosed = errors.New("input: injector closed")
	// ErrConfig reports an unusable Config (no display, bad display rects).
	ErrConfig = errors.New("input: invalid config")
	// ErrDisplay reports a move to a display index the Robot does not have.
	ErrDisplay = errors.New("input: no such display")
	// ErrUnsupported reports an event this platform cannot inject (a key
	// without a mapping, a paste rune outside the Basic Multilingual Plane).
	ErrUnsupported = errors.New("input: unsupported event")
)
