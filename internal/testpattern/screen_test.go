package testpattern

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"math/bits"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"porthole/internal/xvfb"
)

// grabber reads the root window of a display as an RGBA image, through its
// own X connection (as a capturer would).
type grabber struct {
	conn   *xgb.Conn
	screen *xproto.ScreenInfo
	masks  [3]uint32
}

func newGrabber(t testing.TB, display string) *grabber {
	t.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatalf("connect %s: %v", display, err)
	}
	t.Cleanup(conn.Close)
	setup := xproto.Setup(conn)
	screen := setup.DefaultScreen(conn)
	g := &grabber{conn: conn, screen: screen}
	for _, d := range screen.AllowedDepths {
		for _, v := range d.Visuals {
			if v.VisualId == screen.RootVisual {
				g.masks = [3]uint32{v.RedMask, v.GreenMask, v.BlueMask}
			}
		}
	}
	if g.masks[0] == 0 {
		t.Fatal("root visual not found")
	}
	if setup.ImageByteOrder != xproto.ImageOrderLSBFirst {
		t.Fatalf("image byte order %d not handled", setup.ImageByteOrder)
	}
	return g
}

// grab returns the whole root window; pixels must be 32 bits (depth 24).
func (g *grabber) grab(t testing.TB) *image.RGBA {
	t.Helper()
	return g.convert(t, g.grabRaw(t, int(g.screen.HeightInPixels)))
}

// grabRaw returns the top h rows of the root window as the server sends them;
// it is quick, so two grabs can be a known, short time apart.
func (g *grabber) grabRaw(t testing.TB, h int) []byte {
	t.Helper()
	w := int(g.screen.WidthInPixels)
	rep, err := xproto.GetImage(g.conn, xproto.ImageFormatZPixmap, xproto.Drawable(g.screen.Root),
		0, 0, uint16(w), uint16(h), 0xffffffff).Reply()
	if err != nil {
		t.Fatalf("GetImage: %v", err)
	}
	if len(rep.Data) != w*h*4 {
		t.Fatalf("GetImage: %d bytes for %dx%d, want 32 bpp", len(rep.Data), w, h)
	}
	return rep.Data
}

// convert turns grabRaw's pixels into RGBA.
func (g *grabber) convert(t testing.TB, data []byte) *image.RGBA {
	t.Helper()
	return g.convertRows(t, data, int(g.screen.HeightInPixels))
}

// stamp grabs the screen and decodes its stamp, converting only the rows it needs.
func (g *grabber) stamp(t testing.TB) (uint32, error) {
	t.Helper()
	return DecodeStamp(g.convertRows(t, g.grabRaw(t, StampRect().Max.Y), StampRect().Max.Y), StampRect().Min)
}

// convertRows converts only the top h rows (enough for the stamp: the
// conversion is slow under -race).
func (g *grabber) convertRows(t testing.TB, data []byte, h int) *image.RGBA {
	t.Helper()
	w := int(g.screen.WidthInPixels)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		px := binary.LittleEndian.Uint32(data[i*4:])
		img.Pix[i*4] = component(px, g.masks[0])
		img.Pix[i*4+1] = component(px, g.masks[1])
		img.Pix[i*4+2] = component(px, g.masks[2])
		img.Pix[i*4+3] = 0xff
	}
	return img
}

func component(px, mask uint32) uint8 {
	v := (px & mask) >> bits.TrailingZeros32(mask)
	if n := bits.OnesCount32(mask); n > 8 {
		v >>= n - 8
	}
	return uint8(v)
}

// startPattern runs the painter on a fresh 1280x720 Xvfb until the test ends,
// and waits until a readable stamp is on screen.
func startPattern(t *testing.T, o Options) (*grabber, uint32) {
	t.Helper()
	o.Display = xvfb.StartT(t, xvfb.Options{Width: 1280, Height: 720}).Display
	return startPatternOn(t, o)
}

// startPatternOn is startPattern on the display o.Display.
func startPatternOn(t *testing.T, o Options) (*grabber, uint32) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	g := newGrabber(t, o.Display)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v, err := g.stamp(t); err == nil {
			return g, v
		} else if time.Now().After(deadline) {
			t.Fatalf("no stamp on screen after 5 s: %v", err)
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestRunPaintsLayout(t *testing.T) {
	g, _ := startPattern(t, Options{Rate: 30})

	img1, s1 := snapStamp(t, g)
	for _, p := range Patches(1280, 720) {
		if got := img1.RGBAAt(p.Center().X, p.Center().Y); got != p.Color {
			t.Errorf("patch %s centre = %v, want %v", p.Name, got, p.Color)
		}
		// Corners too: the patch is the whole square, not just its centre.
		for _, c := range []image.Point{p.Rect.Min, p.Rect.Max.Sub(image.Pt(1, 1))} {
			if got := img1.RGBAAt(c.X, c.Y); got != p.Color {
				t.Errorf("patch %s at %v = %v, want %v", p.Name, c, got, p.Color)
			}
		}
	}
	if got := img1.RGBAAt(8, 8); got != Background {
		t.Errorf("background at (8,8) = %v, want %v", got, Background)
	}
	box1 := findBox(t, img1)

	time.Sleep(100 * time.Millisecond)
	img2, s2 := snapStamp(t, g)
	for deadline := time.Now().Add(3 * time.Second); s2 == s1 && time.Now().Before(deadline); {
		img2, s2 = snapStamp(t, g) // the painter was starved by other tests; wait for a frame
	}
	if d := int32(s2 - s1); d <= 0 {
		t.Errorf("stamps %d then %d: want an increase", s1, s2)
	}
	box2 := findBox(t, img2)
	if box1 == box2 {
		t.Errorf("box did not move: at x=%d in both captures", box1)
	}
	// Everything in the band outside the box is background: only the box is drawn.
	band := MotionRect(1280, 720)
	for y := band.Min.Y; y < band.Max.Y; y += 7 {
		for x := band.Min.X; x < band.Max.X; x += 7 {
			in := image.Pt(x, y).In(image.Rect(box2, BoxY, box2+BoxSize, BoxY+BoxSize))
			got := img2.RGBAAt(x, y)
			if want := map[bool]color.RGBA{true: BoxColor, false: Background}[in]; got != want {
				t.Fatalf("band pixel (%d,%d) = %v, want %v (box at x=%d)", x, y, got, want, box2)
			}
		}
	}
}

// snapStamp grabs the screen and decodes its stamp, which must be no older
// than the grab itself took plus 500 ms: a 30 Hz painter is normally at most
// one tick behind, but other tests share the two cores and -race slows it.
func snapStamp(t *testing.T, g *grabber) (*image.RGBA, uint32) {
	t.Helper()
	before := time.Now()
	raw := g.grabRaw(t, int(g.screen.HeightInPixels))
	after := time.Now()
	img := g.convert(t, raw)
	s, err := DecodeStamp(img, StampRect().Min)
	if err != nil {
		t.Fatalf("decode stamp: %v", err)
	}
	if age, limit := Age(s, after), after.Sub(before)+500*time.Millisecond; age < 0 || age > limit {
		t.Errorf("stamp %d is %v old at the end of a %v grab, want 0..%v", s, age, after.Sub(before), limit)
	}
	return img, s
}

// findBox returns the left edge of the moving box on row BoxY+BoxSize/2.
func findBox(t *testing.T, img *image.RGBA) int {
	t.Helper()
	y := BoxY + BoxSize/2
	for x := 0; x < img.Bounds().Dx(); x++ {
		if img.RGBAAt(x, y) == BoxColor {
			if x+BoxSize-1 >= img.Bounds().Dx() || img.RGBAAt(x+BoxSize-1, y) != BoxColor {
				t.Fatalf("box at x=%d is not %d px wide", x, BoxSize)
			}
			return x
		}
	}
	t.Fatal("no box on screen")
	return 0
}

func TestRunFullModeChangesWholeBand(t *testing.T) {
	g, _ := startPattern(t, Options{Rate: 30, Mode: ModeFull})
	// Two grabs whose stamps differ by less than 150 ms are 1 to 4 frames
	// apart; the stripes repeat only every 8 frames (≥ 233 ms at 30 Hz), so
	// every band pixel must differ. Grabs that caught the same frame (the
	// painter starved by other tests) or are too far apart are retried.
	var img2 *image.RGBA
	for attempt := 0; ; attempt++ {
		if attempt == 50 {
			t.Fatal("no two grabs 1 to 4 frames apart in 50 attempts")
		}
		// The stamp and the top 64 rows of the band are enough, and quick.
		rows := MotionTop + 64
		raw1 := g.grabRaw(t, rows)
		time.Sleep(20 * time.Millisecond)
		raw2 := g.grabRaw(t, rows)
		s1, err1 := DecodeStamp(g.convertRows(t, raw1, StampRect().Max.Y), StampRect().Min)
		s2, err2 := DecodeStamp(g.convertRows(t, raw2, StampRect().Max.Y), StampRect().Min)
		if err1 != nil || err2 != nil {
			t.Fatalf("decode stamps: %v, %v", err1, err2)
		}
		if d := int32(s2 - s1); d <= 0 || d >= 150 {
			continue
		}
		// Compare the raw pixels: equal bytes are equal colours.
		band := MotionRect(1280, rows)
		changed, total := 0, 0
		for y := band.Min.Y; y < band.Max.Y; y += 5 {
			for x := band.Min.X; x < band.Max.X; x += 5 {
				total++
				o := (y*1280 + x) * 4
				if !bytes.Equal(raw1[o:o+3], raw2[o:o+3]) {
					changed++
				}
			}
		}
		if changed != total {
			t.Errorf("stamps %d then %d: %d of %d sampled band pixels changed, want all", s1, s2, changed, total)
		}
		img2 = g.convertRows(t, raw2, rows)
		break
	}
	for _, p := range Patches(1280, 720) {
		if got := img2.RGBAAt(p.Center().X, p.Center().Y); got != p.Color {
			t.Errorf("patch %s centre = %v, want %v", p.Name, got, p.Color)
		}
	}
}

func TestRunStampFollowsClock(t *testing.T) {
	// A fixed clock makes the stamp exact: every bit is painted as encoded.
	// Painters run one after another on one display, each in its own window.
	display := xvfb.StartT(t, xvfb.Options{Width: 1280, Height: 720}).Display
	for _, ms := range []int64{0, 1<<32 - 1, 0xAAAAAAAA, 0x55555555, 1795942800123} {
		t.Run("", func(t *testing.T) {
			at := time.UnixMilli(ms)
			g, got := startPatternOn(t, Options{Display: display, Rate: 60, Clock: func() time.Time { return at }})
			// The first readable stamp may still be the previous painter's
			// window (this one not mapped yet, or that one not yet destroyed).
			want := uint32(ms)
			var err error
			for deadline := time.Now().Add(5 * time.Second); got != want && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
				got, err = g.stamp(t)
			}
			if err != nil || got != want {
				t.Errorf("stamp = %#x, %v; want %#x", got, err, want)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	x := xvfb.StartT(t, xvfb.Options{Width: 640, Height: 480})
	for _, tc := range []struct {
		name string
		o    Options
		want error
	}{
		{"no display", Options{}, ErrOptions},
		{"rate", Options{Display: x.Display, Rate: 1000}, ErrOptions},
		{"mode", Options{Display: x.Display, Mode: Mode(7)}, ErrOptions},
		{"no server", Options{Display: ":65000"}, ErrConnect},
		{"small screen", Options{Display: x.Display}, ErrScreenTooSmall},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Run(context.Background(), tc.o)
			if !errors.Is(err, tc.want) {
				t.Errorf("Run = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRunServerGone(t *testing.T) {
	x, err := xvfb.Start(context.Background(), xvfb.Options{Width: 1280, Height: 720})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), Options{Display: x.Display}) }()
	g := newGrabber(t, x.Display)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := g.stamp(t); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no stamp: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	x.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrX) {
			t.Errorf("Run after the server died = %v, want ErrX", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still painting 5 s after the server died")
	}
}
