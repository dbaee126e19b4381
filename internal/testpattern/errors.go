package testpattern

import "errors"

// Sentinel errors, wrapped with detail by the functions that return them.
var (
	// ErrOptions reports invalid Options (empty display, rate out of range, unknown mode).
	ErrOptions = errors.New("testpattern: invalid options")
	// ErrConnect reports that the X display could not be opened.
	ErrConnect = errors.New("testpattern: cannot connect to X display")
	// ErrScreenTooSmall reports a screen smaller than MinWidth x MinHeight,
	// where the documented layout would not fit.
	ErrScreenTooSmall = errors.New("testpattern: screen too small for the layout")
	// ErrVisual reports a root visual that is not TrueColor (colours could not be exact).
	ErrVisual = errors.New("testpattern: unsupported root visual")
	// ErrX reports a failed X request or a lost connection while painting.
	ErrX = errors.New("testpattern: X request failed")
	// ErrStampUnreadable reports that no frame stamp could be read from an image:
	// it is missing, cut off, blurred, or a guard block is wrong.
	ErrStampUnreadable = errors.New("testpattern: frame stamp unreadable")
)
