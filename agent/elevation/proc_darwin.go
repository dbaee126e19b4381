package elevation

import (
	"errors"
	"fmt"
)

// newProcSource: watching the processes that run elevated (the Endpoint
// Security framework) is not supported on macOS yet, and elevation is
// refused until it is.
func newProcSource() (procSource, error) {
	return nil, fmt.Errorf("%w: recording elevated processes is not supported on macOS yet: %w", ErrUnsupported, errors.ErrUnsupported)
}
