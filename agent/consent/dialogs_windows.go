package consent

import (
	"errors"
	"fmt"
	"log/slog"
)

// Dialogs will be the Windows desktop dialogs: the topmost Yes/No consent
// MessageBox (default No, timeout = No), the "screen shared" indicator
// with Done, the request form and outcome notices, with the same texts and
// titles as Zenity (issue #17).
type Dialogs struct{}

// NewDialogs is not yet built for Windows.
func NewDialogs(*slog.Logger) (*Dialogs, error) {
	return nil, fmt.Errorf("desktop dialogs are not yet built for Windows: %w", errors.ErrUnsupported)
}
