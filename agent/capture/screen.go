package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"
)

// grabber reads one display into a BGRX buffer it owns: GDI or DXGI on
// Windows. Screen drives it; its methods are never called concurrently.
type grabber interface {
	// grab refreshes the buffer and returns the area that changed since
	// the previous grab, in buffer coordinates. It blocks until something
	// changed, or returns ctx.Err() when ctx ends first. With full set it
	// does not wait: it refreshes and returns the whole buffer.
	grab(ctx context.Context, full bool) (image.Rectangle, error)
	// pixels is the buffer: BGRX rows stride bytes apart, starting at the
	// top-left pixel; valid until the next grab.
	pixels() (pix []byte, stride int)
	// cost is how long the last successful grab worked to read the screen
	// (copying and comparing), without the time it waited for a change.
	cost() time.Duration
	close() error
}

// Screen is a frame source over a grabber: it paces frames to MaxFPS and
// converts only what changed into a reused I420 image. It is the Windows
// source (GDI or DXGI underneath); the contract is X11's.
//
// Next must not be called concurrently; Force, Close and Method may be
// called from any goroutine.
type Screen struct {
	g      grabber         // replaced by reopen; Next and Close hold grabMu to use it
	method string          // g's method; guarded by mu
	rect   image.Rectangle // captured area in display (virtual desktop) coordinates
	img    *image.YCbCr
	minGap time.Duration
	log    *slog.Logger
	force  chan struct{} // cap 1: the next frame is a full one
	// reopen, if set, opens a new grabber on the same area after the
	// current one failed (DXGI loses its duplication when the desktop
	// switches); nil means a failure ends the source.
	reopen func() (grabber, string, error)

	// Touched only by Next (and LastGrab, from the same goroutine).
	started  bool
	last     time.Time
	grabTime time.Duration

	grabMu sync.Mutex // held by Next while the grabber works; Close waits for it

	mu     sync.Mutex
	closed bool               // guarded by mu
	cancel context.CancelFunc // ends the grab in progress; guarded by mu
}

// newScreen wraps g, which captures rect (even-sized) of the desktop.
func newScreen(g grabber, method string, rect image.Rectangle, o Options) *Screen {
	o = o.withDefaults()
	return &Screen{
		g:      g,
		method: method,
		rect:   rect,
		img:    image.NewYCbCr(image.Rect(0, 0, rect.Dx(), rect.Dy()), image.YCbCrSubsampleRatio420),
		minGap: time.Second / time.Duration(o.MaxFPS),
		log:    o.Logger.With("component", "capture", "method", method),
		force:  make(chan struct{}, 1),
	}
}

// evenRect rounds r's size down to even numbers, as 4:2:0 video needs.
func evenRect(r image.Rectangle) image.Rectangle {
	r.Max.X -= r.Dx() % 2
	r.Max.Y -= r.Dy() % 2
	return r
}

// Method names the capture method in use (MethodGDI, MethodDXGI).
func (s *Screen) Method() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.method
}

// Bounds is the captured area in the coordinates of the virtual desktop.
func (s *Screen) Bounds() image.Rectangle { return s.rect }

// LastGrab is how long the last successful Next spent reading and
// converting pixels (the grabber's copy and compare, and the conversion),
// without the time it waited for a change. Call it from the goroutine that
// calls Next.
func (s *Screen) LastGrab() time.Duration { return s.grabTime }

// Force makes the next (or the pending) Next return a complete fresh frame
// without waiting for a change.
func (s *Screen) Force() {
	select {
	case s.force <- struct{}{}:
	default:
	}
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
}

// Next returns the next frame. The first call returns at once; later calls
// block until the screen changed since the previous frame (or Force was
// called), and no sooner than 1/MaxFPS after it. Only the changed part of
// the image is converted.
//
// The image is owned by Screen and stays valid, unchanged, until the next
// successful call; an error leaves it as it was.
func (s *Screen) Next(ctx context.Context) (*image.YCbCr, error) {
	s.grabMu.Lock()
	defer s.grabMu.Unlock()
	for {
		full := !s.started
		select {
		case <-s.force:
			full = true
		default:
		}
		if wait := s.minGap - time.Since(s.last); s.started && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				if full {
					s.rearm()
				}
				return nil, ctx.Err()
			}
		}
		gctx, cancel := context.WithCancel(ctx)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			cancel()
			return nil, ErrClosed
		}
		s.cancel = cancel
		s.mu.Unlock()
		area, err := s.g.grab(gctx, full)
		s.mu.Lock()
		s.cancel = nil
		closed := s.closed
		s.mu.Unlock()
		forced := gctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case closed:
			return nil, ErrClosed
		case err != nil && ctx.Err() != nil:
			if full {
				s.rearm()
			}
			return nil, ctx.Err()
		case err != nil && forced:
			continue // Force ended the wait: take the full frame now
		case err != nil:
			if rerr := s.reopenLocked(err); rerr != nil {
				return nil, rerr
			}
			s.rearm()
			continue
		}
		area = evenArea(area, s.img.Rect)
		if area.Empty() {
			continue
		}
		t0 := time.Now()
		pix, stride := s.g.pixels()
		off := area.Min.Y*stride + area.Min.X*4
		bgrxToI420(s.img, pix[off:], stride, area)
		s.grabTime = s.g.cost() + time.Since(t0)
		s.started = true
		s.last = time.Now()
		return s.img, nil
	}
}

// reopenLocked replaces the grabber that failed with err by a new one
// (possibly of another method). It returns the error that ends the source
// when there is no way to reopen or the new grabber does not open. Requires
// grabMu.
func (s *Screen) reopenLocked(err error) error {
	s.mu.Lock()
	method := s.method
	s.mu.Unlock()
	err = fmt.Errorf("%s capture: %w", method, err)
	if s.reopen == nil {
		return err
	}
	s.log.Warn("capture failed; opening it again", "err", err)
	_ = s.g.close()
	g, name, oerr := s.reopen()
	if oerr != nil {
		s.g = closedGrabber{}
		return errors.Join(err, fmt.Errorf("reopen: %w", oerr))
	}
	s.g = g
	s.mu.Lock()
	s.method = name
	s.mu.Unlock()
	return nil
}

// closedGrabber stands in for a grabber that could not be reopened.
type closedGrabber struct{}

func (closedGrabber) grab(context.Context, bool) (image.Rectangle, error) {
	return image.Rectangle{}, ErrClosed
}
func (closedGrabber) pixels() ([]byte, int) { return nil, 0 }
func (closedGrabber) cost() time.Duration   { return 0 }
func (closedGrabber) close() error          { return nil }

// rearm keeps a full-frame request for the next call.
func (s *Screen) rearm() {
	select {
	case s.force <- struct{}{}:
	default:
	}
}

// evenArea widens a to even coordinates (4:2:0 converts 2×2 blocks) and
// clips it to bounds.
func evenArea(a, bounds image.Rectangle) image.Rectangle {
	a.Min.X &^= 1
	a.Min.Y &^= 1
	a.Max.X += a.Max.X & 1
	a.Max.Y += a.Max.Y & 1
	return a.Intersect(bounds)
}

// Close ends a waiting Next (it returns ErrClosed) and frees the grabber.
// It is idempotent.
func (s *Screen) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.grabMu.Lock()
	defer s.grabMu.Unlock()
	return s.g.close()
}
