package capture

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
)

// method is one way to open a grabber on an area of the desktop.
type method struct {
	name string
	open func(rect image.Rectangle, o Options) (grabber, error)
}

// chooser opens grabbers by the first method that works, in order of
// preference, and remembers methods that cannot work on this machine: a
// failure wrapping errors.ErrUnsupported (DXGI in Wine: E_NOTIMPL; no
// Desktop Duplication before Windows 8) takes the method out for good,
// any other (the secure desktop showing, too many duplications) is tried
// again next time. A chooser belongs to its owner (one per agent), never
// to the process.
type chooser struct {
	methods []method
	log     *slog.Logger

	mu      sync.Mutex
	ruled   map[string]error // methods that cannot work here; guarded by mu
	current string           // the method of the last successful open or probe; guarded by mu
}

func newChooser(log *slog.Logger, methods ...method) *chooser {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &chooser{methods: methods, log: log.With("component", "capture"), ruled: map[string]error{}}
}

// open returns a grabber of the first method that opens on rect, and the
// method's name. The error names every method that failed.
func (c *chooser) open(rect image.Rectangle, o Options) (grabber, string, error) {
	var errs []error
	for _, m := range c.methods {
		c.mu.Lock()
		ruled := c.ruled[m.name]
		c.mu.Unlock()
		if ruled != nil {
			continue
		}
		g, err := m.open(rect, o)
		if err == nil {
			c.mu.Lock()
			c.current = m.name
			c.mu.Unlock()
			return g, m.name, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
		if errors.Is(err, errors.ErrUnsupported) {
			c.mu.Lock()
			c.ruled[m.name] = err
			c.mu.Unlock()
			c.log.Info("capture method unavailable on this machine", "method", m.name, "err", err)
		} else {
			c.log.Warn("capture method failed; trying the next", "method", m.name, "err", err)
		}
	}
	if len(errs) == 0 {
		return nil, "", fmt.Errorf("no capture method left: %w", ErrUnsupported)
	}
	return nil, "", errors.Join(errs...)
}

// probe is the name of the method the next open will most likely use: the
// last one that opened; before any, it opens and closes one on rect (which
// also rules out methods that cannot work). "" when none works.
func (c *chooser) probe(rect image.Rectangle) string {
	c.mu.Lock()
	cur := c.current
	c.mu.Unlock()
	if cur != "" {
		return cur
	}
	g, name, err := c.open(rect, Options{})
	if err != nil {
		return ""
	}
	_ = g.close()
	return name
}
