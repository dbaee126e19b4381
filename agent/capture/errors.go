package capture

import "errors"

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrNoDisplay means no X display (or no monitor on it) could be reached.
	ErrNoDisplay = errors.New("capture: no display")
	// ErrUnsupported means the display lacks something the grabber needs
	// (MIT-SHM, DAMAGE, XFIXES, or a 32-bit TrueColor pixel format).
	ErrUnsupported = errors.New("capture: display not supported")
	// ErrBadRect means the requested area is empty or outside the screen.
	ErrBadRect = errors.New("capture: bad capture rectangle")
	// ErrClosed is returned by Next after Close or after the X connection died.
	ErrClosed = errors.New("capture: grabber closed")
)
