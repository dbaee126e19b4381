package capture

// The Windows capture, run for real under Wine on Xvfb (GDI: Wine has no
// Desktop Duplication): a Windows probe (testdata/winscreen) captures what
// an X client painted, and every pixel is checked exactly.

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porthole/internal/wine"
	"porthole/internal/wire"
	"porthole/internal/xvfb"
)

type winscreenReport struct {
	Displays []wire.Display
	Method   string
	Bounds   *[4]int
	MsFull   float64 `json:"ms_full"`
	MsGrab   float64 `json:"ms_grab"`
}

// winscreen runs the probe with args on display and decodes its report.
func winscreen(t testing.TB, p *wine.Prefix, exe, display string, args ...string) winscreenReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := p.Command(ctx, display, exe, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("winscreen %v: %v\n%s%s", args, err, out, stderr.String())
	}
	var rep winscreenReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("winscreen %v printed %q: %v", args, out, err)
	}
	return rep
}

// i420Of is what the converter makes of one solid colour 0xRRGGBB: exact,
// since every 2×2 block of a solid area averages to the colour itself.
func i420Of(rgb uint32) [3]byte {
	r, g, b := int32(rgb>>16&0xff), int32(rgb>>8&0xff), int32(rgb&0xff)
	return [3]byte{
		uint8((66*r+129*g+25*b+128)>>8 + 16),
		uint8((-38*r-74*g+112*b+128)>>8 + 128),
		uint8((112*r-94*g-18*b+128)>>8 + 128),
	}
}

// region is a painted rectangle; later ones cover earlier ones.
type region struct {
	rect image.Rectangle
	rgb  uint32
}

// checkPlanes compares the probe's planes in dir with the painted regions:
// Y for every pixel, Cb and Cr for every 2×2 block inside one colour.
func checkPlanes(t *testing.T, dir string, w, h int, regions []region) {
	t.Helper()
	read := func(name string, n int) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(b) != n {
			t.Fatalf("%s: %d bytes, %v; want %d", name, len(b), err, n)
		}
		return b
	}
	y, cb, cr := read("y.raw", w*h), read("cb.raw", w*h/4), read("cr.raw", w*h/4)
	colourAt := func(x, yy int) uint32 {
		c := uint32(0)
		for _, r := range regions {
			if image.Pt(x, yy).In(r.rect) {
				c = r.rgb
			}
		}
		return c
	}
	bad := 0
	for yy := 0; yy < h && bad < 10; yy++ {
		for x := 0; x < w && bad < 10; x++ {
			want := i420Of(colourAt(x, yy))
			if y[yy*w+x] != want[0] {
				t.Errorf("Y(%d,%d) = %d, want %d (colour %06x)", x, yy, y[yy*w+x], want[0], colourAt(x, yy))
				bad++
			}
			if x%2 == 0 && yy%2 == 0 {
				c := colourAt(x, yy)
				if colourAt(x+1, yy) != c || colourAt(x, yy+1) != c || colourAt(x+1, yy+1) != c {
					continue
				}
				if i := yy/2*(w/2) + x/2; cb[i] != want[1] || cr[i] != want[2] {
					t.Errorf("CbCr(%d,%d) = %d,%d, want %d,%d", x, yy, cb[i], cr[i], want[1], want[2])
					bad++
				}
			}
		}
	}
}

// TestWineGDICapture: the Windows agent's capture under Wine picks GDI
// (DXGI fails there), lists the Xvfb screen as its one display, and
// captures exactly what an X client painted, first whole, then a change.
func TestWineGDICapture(t *testing.T) {
	exe := wine.BuildGoT(t, wine.BuildOptions{Pkg: "./testdata/winscreen"})
	const w, h = 1280, 720
	srv := xvfb.StartT(t, xvfb.Options{Width: w, Height: h})
	p := wine.NewPrefixT(t)
	paint := newPainter(t, srv.Display)
	regions := []region{
		{image.Rect(0, 0, w, h), 0x202020},
		{image.Rect(0, 0, 1, 1), 0xffffff}, // corners: an off-by-one shows here
		{image.Rect(w-1, h-1, w, h), 0xff0000},
		{image.Rect(100, 50, 357, 211), 0xff8000}, // odd sizes
		{image.Rect(640, 360, 900, 700), 0x00ff00},
		{image.Rect(901, 11, 1279, 300), 0x0000ff},
		{image.Rect(3, 600, 200, 719), 0x808080},
	}
	for _, r := range regions {
		paint.fill(t, r.rgb, r.rect)
	}

	rep := winscreen(t, p, exe, srv.Display, "displays")
	want := []wire.Display{{Index: 0, Width: w, Height: h, Primary: true}}
	if len(rep.Displays) != 1 || rep.Displays[0] != want[0] || rep.Method != MethodGDI {
		t.Fatalf("displays %+v, method %q; want %+v by gdi", rep.Displays, rep.Method, want)
	}

	dir := t.TempDir()
	rep = winscreen(t, p, exe, srv.Display, "frame", dir)
	if rep.Method != MethodGDI || rep.Bounds == nil || *rep.Bounds != [4]int{0, 0, w, h} {
		t.Fatalf("frame: method %q bounds %v", rep.Method, rep.Bounds)
	}
	checkPlanes(t, dir, w, h, regions)

	// The next frame comes when the screen changes, with the change.
	pr := p.StartT(t, srv.Display, exe, "next", dir)
	if line, err := pr.Out.ReadString('\n'); strings.TrimSpace(line) != "ready" {
		t.Fatalf("winscreen next: %q, %v\n%s", line, err, pr.Stderr())
	}
	moved := region{image.Rect(401, 401, 433, 420), 0xff00ff}
	paint.fill(t, moved.rgb, moved.rect)
	if _, err := pr.Out.ReadString('\n'); err != nil {
		t.Fatalf("winscreen next: %v\n%s", err, pr.Stderr())
	}
	if err := pr.Wait(); err != nil {
		t.Fatalf("winscreen next: %v\n%s", err, pr.Stderr())
	}
	checkPlanes(t, dir, w, h, append(regions, moved))
}

// BenchmarkWineGDICapture measures a full GDI frame (BitBlt, cursor, the
// whole conversion) under Wine at 720p and 1080p (make bench runs it).
// Wine's BitBlt reads the X server with XGetImage: a floor for real
// Windows, not a promise.
func BenchmarkWineGDICapture(b *testing.B) {
	exe := wine.BuildGoT(b, wine.BuildOptions{Pkg: "./testdata/winscreen"})
	for _, s := range []struct{ w, h int }{{1280, 720}, {1920, 1080}} {
		b.Run(fmt.Sprintf("%dx%d", s.w, s.h), func(b *testing.B) {
			srv := xvfb.StartT(b, xvfb.Options{Width: s.w, Height: s.h})
			// One prefix per display: a prefix's running wineserver keeps
			// the desktop size of the first display its programs used.
			p := wine.NewPrefixT(b)
			var rep winscreenReport
			for b.Loop() {
				rep = winscreen(b, p, exe, srv.Display, "time", "30")
			}
			if rep.Method != MethodGDI || rep.Bounds == nil || *rep.Bounds != [4]int{0, 0, s.w, s.h} {
				b.Fatalf("%+v", rep)
			}
			b.ReportMetric(rep.MsFull, "ms/frame")
			b.ReportMetric(rep.MsGrab, "grab-ms/frame")
		})
	}
}
