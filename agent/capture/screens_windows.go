package capture

import (
	"fmt"
	"log/slog"

	"porthole/internal/wire"
)

// Screens opens the Windows screen sources: DXGI Desktop Duplication where
// it works, GDI otherwise, chosen when each source opens (and again when
// one fails). It remembers a method that cannot work on this machine, and
// holds no process-wide state: the platform keeps one per agent.
type Screens struct {
	c *chooser
}

// NewScreens returns the opener of Windows screen sources.
func NewScreens(log *slog.Logger) *Screens {
	return &Screens{c: newChooser(log,
		method{name: MethodDXGI, open: openDXGI},
		method{name: MethodGDI, open: openGDI})}
}

// Open starts capturing display d (its area on the virtual desktop, sizes
// rounded down to even numbers). The caller must Close the Screen.
func (s *Screens) Open(d wire.Display, o Options) (*Screen, error) {
	rect := evenRect(DisplayRect(d))
	if rect.Empty() {
		return nil, fmt.Errorf("display %d (%dx%d): %w", d.Index, d.Width, d.Height, ErrBadRect)
	}
	g, name, err := s.c.open(rect, o)
	if err != nil {
		return nil, fmt.Errorf("capture display %d: %w", d.Index, err)
	}
	sc := newScreen(g, name, rect, o)
	sc.reopen = func() (grabber, string, error) { return s.c.open(rect, o) }
	return sc, nil
}

// Method names the capture method in use: the method of the last source
// opened or, before any, the one a source on the primary display would use
// now (found by opening one). "" when no method works.
func (s *Screens) Method() string {
	ds, err := Displays()
	if err != nil {
		return ""
	}
	return s.c.probe(evenRect(DisplayRect(ds[0])))
}
