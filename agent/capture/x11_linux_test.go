package capture

import (
	"context"
	"errors"
	"image"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"porthole/internal/wire"
	"porthole/internal/xvfb"
)

// painter draws solid rectangles on a full-screen override-redirect window
// from its own X connection, as another application would.
type painter struct {
	c   *xgb.Conn
	win xproto.Window
	gc  xproto.Gcontext
}

func newPainter(t testing.TB, display string) *painter {
	t.Helper()
	quietXGB()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s := xproto.Setup(c).DefaultScreen(c)
	win, err := xproto.NewWindowId(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := xproto.CreateWindowChecked(c, s.RootDepth, win, s.Root, 0, 0, s.WidthInPixels, s.HeightInPixels, 0,
		xproto.WindowClassInputOutput, s.RootVisual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect, []uint32{0, 1}).Check(); err != nil {
		t.Fatal(err)
	}
	if err := xproto.MapWindowChecked(c, win).Check(); err != nil {
		t.Fatal(err)
	}
	gc, err := xproto.NewGcontextId(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := xproto.CreateGCChecked(c, gc, xproto.Drawable(win), 0, nil).Check(); err != nil {
		t.Fatal(err)
	}
	return &painter{c: c, win: win, gc: gc}
}

// fill paints r (window = root coordinates) with 0xRRGGBB and waits until
// the server has done it.
func (p *painter) fill(t testing.TB, rgb uint32, r image.Rectangle) {
	t.Helper()
	xproto.ChangeGC(p.c, p.gc, xproto.GcForeground, []uint32{rgb})
	xproto.PolyFillRectangle(p.c, xproto.Drawable(p.win), p.gc, []xproto.Rectangle{{
		X: int16(r.Min.X), Y: int16(r.Min.Y), Width: uint16(r.Dx()), Height: uint16(r.Dy()),
	}})
	if _, err := xproto.GetInputFocus(p.c).Reply(); err != nil {
		t.Fatal(err)
	}
}

func newX11T(t *testing.T, display string, rect image.Rectangle, o Options) *X11 {
	t.Helper()
	x, err := NewX11(display, rect, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func nextT(t *testing.T, x *X11, timeout time.Duration) *image.YCbCr {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	img, err := x.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var colours = []struct {
	name    string
	rgb     uint32
	r, g, b float64
}{
	{"red", 0xff0000, 255, 0, 0},
	{"green", 0x00ff00, 0, 255, 0},
	{"blue", 0x0000ff, 0, 0, 255},
	{"white", 0xffffff, 255, 255, 255},
	{"black", 0x000000, 0, 0, 0},
	{"grey", 0x808080, 128, 128, 128},
	{"orange", 0xff8000, 255, 128, 0},
}

func TestX11Colours(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 640, Height: 480})
	p := newPainter(t, srv.Display)
	x := newX11T(t, srv.Display, image.Rectangle{}, Options{MaxFPS: 200})
	if got := nextT(t, x, 2*time.Second).Rect; got != image.Rect(0, 0, 640, 480) {
		t.Fatalf("first frame %v, want 640x480", got)
	}
	full := image.Rect(0, 0, 640, 480)
	for _, c := range colours {
		t.Run(c.name, func(t *testing.T) {
			p.fill(t, c.rgb, full)
			img := nextT(t, x, 2*time.Second)
			want := want601(c.r, c.g, c.b)
			for _, pt := range []image.Point{{0, 0}, {320, 240}, {639, 479}} {
				if got := ycc(img, pt.X, pt.Y); !near(got, want, 1) {
					t.Errorf("%v: got YCbCr %v, want %v", pt, got, want)
				}
			}
		})
	}
}

// A small change re-reads only its region, and the rest of the frame keeps
// what was captured before.
func TestX11PartialDamage(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 640, Height: 480})
	p := newPainter(t, srv.Display)
	p.fill(t, 0x0000ff, image.Rect(0, 0, 640, 480))
	x := newX11T(t, srv.Display, image.Rectangle{}, Options{MaxFPS: 200})
	nextT(t, x, 2*time.Second)
	p.fill(t, 0xff0000, image.Rect(101, 51, 151, 99)) // odd corner on purpose
	img := nextT(t, x, 2*time.Second)
	red, blue := want601(255, 0, 0), want601(0, 0, 255)
	for _, tc := range []struct {
		pt   image.Point
		want [3]int
	}{{image.Pt(101, 51), red}, {image.Pt(150, 98), red}, {image.Pt(125, 75), red},
		{image.Pt(10, 10), blue}, {image.Pt(600, 400), blue}, {image.Pt(160, 75), blue}} {
		got := [3]int{int(img.Y[img.YOffset(tc.pt.X, tc.pt.Y)]), 0, 0}
		if want := tc.want[0]; !near(got, [3]int{want, 0, 0}, 1) {
			t.Errorf("luma at %v = %d, want %d", tc.pt, got[0], want)
		}
	}
}

func TestX11SubRect(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 640, Height: 480})
	p := newPainter(t, srv.Display)
	p.fill(t, 0x0000ff, image.Rect(0, 0, 640, 480))
	p.fill(t, 0xffffff, image.Rect(100, 100, 200, 150))
	x := newX11T(t, srv.Display, image.Rect(100, 100, 301, 201), Options{})
	if got, want := x.Bounds(), image.Rect(100, 100, 300, 200); got != want {
		t.Fatalf("Bounds() = %v, want %v (rounded to even)", got, want)
	}
	img := nextT(t, x, 2*time.Second)
	if got := img.Rect; got != image.Rect(0, 0, 200, 100) {
		t.Fatalf("image %v", got)
	}
	if got, want := ycc(img, 10, 10), want601(255, 255, 255); !near(got, want, 1) {
		t.Errorf("(10,10) = %v, want white %v", got, want)
	}
	if got, want := ycc(img, 150, 80), want601(0, 0, 255); !near(got, want, 1) {
		t.Errorf("(150,80) = %v, want blue %v", got, want)
	}
	// Damage entirely outside the rectangle does not wake Next.
	p.fill(t, 0xff0000, image.Rect(400, 300, 500, 400))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := x.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next after damage outside the rectangle: %v, want deadline", err)
	}
}

func TestX11BadRect(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 640, Height: 480})
	for _, r := range []image.Rectangle{image.Rect(600, 0, 700, 100), image.Rect(0, 0, 1, 1), image.Rect(-1, 0, 10, 10)} {
		if x, err := NewX11(srv.Display, r, Options{}); !errors.Is(err, ErrBadRect) {
			if x != nil {
				x.Close()
			}
			t.Errorf("NewX11(%v) = %v, want ErrBadRect", r, err)
		}
	}
	if _, err := NewX11(":4242", image.Rectangle{}, Options{}); !errors.Is(err, ErrNoDisplay) {
		t.Errorf("NewX11 on a missing display = %v, want ErrNoDisplay", err)
	}
}

// A static screen leaves Next blocked (no polling); a change or Force
// wakes it.
func TestX11BlocksUntilChange(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 320, Height: 240})
	p := newPainter(t, srv.Display)
	p.fill(t, 0x000000, image.Rect(0, 0, 320, 240))
	x := newX11T(t, srv.Display, image.Rectangle{}, Options{})
	nextT(t, x, 2*time.Second)

	cpu0 := cpuTime(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := x.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on a static screen: %v, want deadline exceeded", err)
	}
	// Blocking on damage events, not polling: half a second of waiting
	// costs (almost) no CPU.
	if used := cpuTime(t) - cpu0; used > 25*time.Millisecond {
		t.Errorf("waiting 500ms on a static screen used %v CPU", used)
	}

	go func() {
		time.Sleep(100 * time.Millisecond)
		xproto.ChangeGC(p.c, p.gc, xproto.GcForeground, []uint32{0xffffff})
		xproto.PolyFillRectangle(p.c, xproto.Drawable(p.win), p.gc, []xproto.Rectangle{{X: 10, Y: 10, Width: 20, Height: 20}})
		xproto.GetInputFocus(p.c).Reply()
	}()
	start := time.Now()
	img := nextT(t, x, 2*time.Second)
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("Next returned after %v, before the change", d)
	}
	if got, want := ycc(img, 15, 15), want601(255, 255, 255); !near(got, want, 1) {
		t.Errorf("changed pixel %v, want %v", got, want)
	}

	x.Force()
	start = time.Now()
	nextT(t, x, time.Second)
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("forced Next took %v", d)
	}
}

// cpuTime is the CPU time (user+system) this process used so far.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestX11MaxFPS(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 320, Height: 240})
	p := newPainter(t, srv.Display)
	x := newX11T(t, srv.Display, image.Rectangle{}, Options{MaxFPS: 20})
	nextT(t, x, 2*time.Second)
	start := time.Now()
	for i := range 5 {
		p.fill(t, uint32(i*40), image.Rect(0, 0, 320, 240))
		nextT(t, x, 2*time.Second)
	}
	if d := time.Since(start); d < 5*50*time.Millisecond-10*time.Millisecond {
		t.Errorf("5 frames at MaxFPS 20 took %v, want >= 250ms", d)
	}
}

func TestX11Close(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 320, Height: 240})
	x, err := NewX11(srv.Display, image.Rectangle{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	nextT(t, x, 2*time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := x.Next(context.Background())
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("blocked Next after Close: %v, want ErrClosed", err)
	}
	if err := x.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := x.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
}

func TestDisplaysAndSnapshot(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 800, Height: 600})
	t.Setenv("DISPLAY", srv.Display)
	t.Setenv("XDG_SESSION_TYPE", "x11")
	got, err := Displays()
	if err != nil {
		t.Fatal(err)
	}
	want := []wire.Display{{Index: 0, X: 0, Y: 0, Width: 800, Height: 600, Primary: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Displays() (-want +got):\n%s", diff)
	}
	newPainter(t, srv.Display).fill(t, 0xff8000, image.Rect(0, 0, 800, 600))
	img, err := Snapshot(0)
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect != image.Rect(0, 0, 800, 600) {
		t.Errorf("snapshot %v", img.Rect)
	}
	if got := img.RGBAAt(400, 300); got.R != 0xff || got.G != 0x80 || got.B != 0 {
		t.Errorf("snapshot pixel %v, want ff8000", got)
	}
	if _, err := Snapshot(1); !errors.Is(err, ErrNoDisplay) {
		t.Errorf("Snapshot(1) = %v, want ErrNoDisplay", err)
	}
}

func BenchmarkX11(b *testing.B) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"1080p", 1920, 1080}, {"720p", 1280, 720}} {
		b.Run(sz.name, func(b *testing.B) {
			srv := xvfb.StartT(b, xvfb.Options{Width: sz.w, Height: sz.h})
			x, err := NewX11(srv.Display, image.Rectangle{}, Options{MaxFPS: 100000})
			if err != nil {
				b.Fatal(err)
			}
			defer x.Close()
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				x.Force()
				if _, err := x.Next(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
		})
	}
}

// The X server going away ends a blocked Next with ErrClosed, and Close
// still returns promptly.
func TestX11ServerGone(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 320, Height: 240})
	x, err := NewX11(srv.Display, image.Rectangle{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	nextT(t, x, 2*time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := x.Next(context.Background())
		errc <- err
	}()
	srv.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Next after the server died: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next still blocked after the server died")
	}
	closed := make(chan struct{})
	go func() { x.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung after the server died")
	}
}
