package elevation

import (
	"errors"
	"fmt"
)

// newProcSource: watching the processes that run elevated (token
// elevation of new processes) is not yet built for Windows, and elevation
// is refused until it is.
func newProcSource() (procSource, error) {
	return nil, fmt.Errorf("%w: recording elevated processes is not yet built for Windows: %w", ErrUnsupported, errors.ErrUnsupported)
}
