package capture

import (
	"context"
	"errors"
	"image"
	"image/color"
	"sync"
	"testing"
	"time"

	"porthole/internal/wire"
)

// fakeGrabber is a screen the test paints: grab blocks until the test
// reports a change (or fails once, when told to).
type fakeGrabber struct {
	w, h    int
	mu      sync.Mutex
	pix     []byte
	pending image.Rectangle
	failErr error
	grabs   int
	closed  bool
	wake    chan struct{}
}

func newFakeGrabber(w, h int) *fakeGrabber {
	return &fakeGrabber{w: w, h: h, pix: make([]byte, w*h*4), wake: make(chan struct{}, 1)}
}

// paint fills r with colour c and reports the change.
func (f *fakeGrabber) paint(r image.Rectangle, c color.RGBA) {
	f.mu.Lock()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			copy(f.pix[(y*f.w+x)*4:], []byte{c.B, c.G, c.R, 0})
		}
	}
	f.pending = f.pending.Union(r)
	f.mu.Unlock()
	f.signal()
}

func (f *fakeGrabber) fail(err error) {
	f.mu.Lock()
	f.failErr = err
	f.mu.Unlock()
	f.signal()
}

func (f *fakeGrabber) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fakeGrabber) grab(ctx context.Context, full bool) (image.Rectangle, error) {
	for {
		f.mu.Lock()
		f.grabs++
		if err := f.failErr; err != nil {
			f.failErr = nil
			f.mu.Unlock()
			return image.Rectangle{}, err
		}
		if full || !f.pending.Empty() {
			r := f.pending
			if full {
				r = image.Rect(0, 0, f.w, f.h)
			}
			f.pending = image.Rectangle{}
			f.mu.Unlock()
			return r, nil
		}
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return image.Rectangle{}, ctx.Err()
		case <-f.wake:
		}
	}
}

func (f *fakeGrabber) pixels() ([]byte, int) { return f.pix, f.w * 4 }

func (f *fakeGrabber) cost() time.Duration { return time.Millisecond }

func (f *fakeGrabber) close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

func (f *fakeGrabber) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// lumaAt is the Y value of the frame at (x, y).
func lumaAt(img *image.YCbCr, x, y int) uint8 { return img.Y[img.YOffset(x, y)] }

func nextWithin(t *testing.T, s *Screen, d time.Duration) (*image.YCbCr, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Next(ctx)
}

func TestScreenNextBlocksUntilChange(t *testing.T) {
	g := newFakeGrabber(64, 48)
	g.paint(image.Rect(0, 0, 64, 48), color.RGBA{255, 255, 255, 255})
	s := newScreen(g, "fake", image.Rect(100, 0, 164, 48), Options{MaxFPS: 1000})
	defer s.Close()
	if s.Bounds() != image.Rect(100, 0, 164, 48) || s.Method() != "fake" {
		t.Fatalf("Bounds %v, Method %q", s.Bounds(), s.Method())
	}
	img, err := nextWithin(t, s, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := lumaAt(img, 10, 10); got != 235 {
		t.Fatalf("first frame luma %d, want 235 (white)", got)
	}
	// Nothing changed: Next waits.
	if _, err := nextWithin(t, s, 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on a still screen = %v, want to wait", err)
	}
	// A change: only the changed (evened) area is converted.
	g.paint(image.Rect(5, 5, 7, 7), color.RGBA{0, 0, 0, 255})
	copy(g.pix[(20*64+20)*4:], []byte{0, 0, 0, 0}) // unreported: must not be converted
	img, err = nextWithin(t, s, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if lumaAt(img, 5, 5) != 16 || lumaAt(img, 20, 20) != 235 {
		t.Fatalf("after a change at 5,5: luma %d there, %d at 20,20 (unreported)", lumaAt(img, 5, 5), lumaAt(img, 20, 20))
	}
	if s.LastGrab() < time.Millisecond || s.LastGrab() > time.Second {
		t.Errorf("LastGrab = %v, want the grabber's 1 ms and the conversion", s.LastGrab())
	}
}

func TestScreenPacesFrames(t *testing.T) {
	g := newFakeGrabber(16, 16)
	s := newScreen(g, "fake", image.Rect(0, 0, 16, 16), Options{MaxFPS: 10})
	defer s.Close()
	if _, err := nextWithin(t, s, time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	g.paint(image.Rect(0, 0, 2, 2), color.RGBA{1, 2, 3, 255})
	if _, err := nextWithin(t, s, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Fatalf("second frame after %v, want ≥ 1/MaxFPS", d)
	}
}

func TestScreenForceAndClose(t *testing.T) {
	g := newFakeGrabber(16, 16)
	s := newScreen(g, "fake", image.Rect(0, 0, 16, 16), Options{MaxFPS: 1000})
	if _, err := nextWithin(t, s, time.Second); err != nil {
		t.Fatal(err)
	}
	// Force ends a wait on a still screen with a full frame.
	done := make(chan error, 1)
	go func() { _, err := nextWithin(t, s, 5*time.Second); done <- err }()
	time.Sleep(20 * time.Millisecond)
	s.Force()
	if err := <-done; err != nil {
		t.Fatalf("forced Next = %v", err)
	}
	// Close ends a waiting Next with ErrClosed and frees the grabber.
	go func() { _, err := nextWithin(t, s, 5*time.Second); done <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next during Close = %v, want ErrClosed", err)
	}
	if !g.isClosed() {
		t.Fatal("grabber not closed")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v", err)
	}
}

// A failed grabber is replaced (DXGI after a desktop switch) and the next
// frame is a full one; without a way to reopen, the error ends the source.
func TestScreenReopens(t *testing.T) {
	g1, g2 := newFakeGrabber(16, 16), newFakeGrabber(16, 16)
	g2.paint(image.Rect(0, 0, 16, 16), color.RGBA{255, 255, 255, 255})
	s := newScreen(g1, "dxgi", image.Rect(0, 0, 16, 16), Options{MaxFPS: 1000})
	defer s.Close()
	s.reopen = func() (grabber, string, error) { return g2, "gdi", nil }
	if _, err := nextWithin(t, s, time.Second); err != nil {
		t.Fatal(err)
	}
	g1.fail(errors.New("access lost"))
	img, err := nextWithin(t, s, time.Second)
	if err != nil {
		t.Fatalf("Next after a grabber failure = %v", err)
	}
	if !g1.isClosed() || s.Method() != "gdi" || lumaAt(img, 15, 15) != 235 {
		t.Fatalf("old closed %v, method %q, luma %d; want the new grabber's full frame", g1.isClosed(), s.Method(), lumaAt(img, 15, 15))
	}

	g3 := newFakeGrabber(16, 16)
	s3 := newScreen(g3, "gdi", image.Rect(0, 0, 16, 16), Options{})
	defer s3.Close()
	if _, err := nextWithin(t, s3, time.Second); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("BitBlt: the desktop went away")
	g3.fail(boom)
	if _, err := nextWithin(t, s3, time.Second); !errors.Is(err, boom) {
		t.Fatalf("Next = %v, want the grabber's error", err)
	}
}

func TestEvenRect(t *testing.T) {
	if got := evenRect(image.Rect(-1281, 3, 0, 724)); got != image.Rect(-1281, 3, -1, 723) {
		t.Errorf("evenRect = %v", got)
	}
	if got := DisplayRect(wire.Display{X: -1280, Y: -200, Width: 1280, Height: 720}); got != image.Rect(-1280, -200, 0, 520) {
		t.Errorf("DisplayRect = %v", got)
	}
}

func TestEvenArea(t *testing.T) {
	b := image.Rect(0, 0, 100, 50)
	for _, tc := range []struct{ in, want image.Rectangle }{
		{image.Rect(3, 5, 4, 6), image.Rect(2, 4, 4, 6)},
		{image.Rect(98, 48, 100, 50), image.Rect(98, 48, 100, 50)},
		{image.Rect(99, 49, 100, 50), image.Rect(98, 48, 100, 50)},
	} {
		if got := evenArea(tc.in, b); got != tc.want {
			t.Errorf("evenArea(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
