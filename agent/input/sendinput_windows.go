package input

import (
	"errors"
	"fmt"
)

// SendInput will inject remote input on Windows with user32's SendInput:
// absolute mouse across the virtual desktop, wheel, keys by scan code with
// the same key map as Linux (issue #17).
type SendInput struct{}

// NewSendInput is not yet built for Windows.
func NewSendInput(Config) (*SendInput, error) {
	return nil, fmt.Errorf("remote input (SendInput) is not yet built for Windows: %w", errors.ErrUnsupported)
}
