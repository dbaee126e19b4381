package capture

import (
	"errors"
	"fmt"
	"log/slog"
)

// Screens will capture the Windows desktop: DXGI Desktop Duplication where
// available, GDI BitBlt otherwise, chosen at run time (issue #17).
type Screens struct{}

// NewScreens is not yet built for Windows.
func NewScreens(*slog.Logger) (*Screens, error) {
	return nil, fmt.Errorf("screen capture (DXGI/GDI) is not yet built for Windows: %w", errors.ErrUnsupported)
}
