package video

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"porthole/agent/capture"
	"porthole/agent/encode"
	"porthole/internal/xvfb"
)

// tiles paints a window of random-coloured 32-px tiles from its own X
// connection, as an application would.
type tiles struct {
	c    *xgb.Conn
	win  xproto.Window
	gc   xproto.Gcontext
	w, h int
	rng  *rand.Rand
}

func newTiles(t testing.TB, display string, w, h int) *tiles {
	t.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s := xproto.Setup(c).DefaultScreen(c)
	win, _ := xproto.NewWindowId(c)
	gc, _ := xproto.NewGcontextId(c)
	if err := xproto.CreateWindowChecked(c, s.RootDepth, win, s.Root, 0, 0, uint16(w), uint16(h), 0,
		xproto.WindowClassInputOutput, s.RootVisual, xproto.CwBackPixel|xproto.CwOverrideRedirect, []uint32{0, 1}).Check(); err != nil {
		t.Fatal(err)
	}
	xproto.MapWindow(c, win)
	if err := xproto.CreateGCChecked(c, gc, xproto.Drawable(win), 0, nil).Check(); err != nil {
		t.Fatal(err)
	}
	return &tiles{c: c, win: win, gc: gc, w: w, h: h, rng: rand.New(rand.NewPCG(5, 6))}
}

// paint recolours a fraction of the tiles and waits for the server. It
// holds a server grab meanwhile so a capture sees all of it or none.
func (p *tiles) paint(t testing.TB, fraction float64) {
	xproto.GrabServer(p.c)
	for y := 0; y < p.h; y += 32 {
		for x := 0; x < p.w; x += 32 {
			if p.rng.Float64() >= fraction {
				continue
			}
			xproto.ChangeGC(p.c, p.gc, xproto.GcForeground, []uint32{p.rng.Uint32() & 0xffffff})
			xproto.PolyFillRectangle(p.c, xproto.Drawable(p.win), p.gc, []xproto.Rectangle{{X: int16(x), Y: int16(y), Width: 32, Height: 32}})
		}
	}
	xproto.UngrabServer(p.c)
	if _, err := xproto.GetInputFocus(p.c).Reply(); err != nil {
		t.Fatal(err)
	}
}

func TestRealX11VP8(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 640, Height: 480})
	// The grabber first: it silences xgb's log line for the test's own
	// connection too.
	src, err := capture.NewX11(srv.Display, image.Rectangle{}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	p := newTiles(t, srv.Display, 640, 480)
	p.paint(t, 1)
	enc, err := encode.NewVP8(encode.Config{Width: 640, Height: 480})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })

	var (
		mu     sync.Mutex
		frames []sunk
		got    = make(chan struct{}, 100)
	)
	sink := func(frame []byte, key bool, dur time.Duration) error {
		if (frame[0]&1 == 0) != key { // VP8 frame tag
			t.Errorf("frame tag %x disagrees with keyframe=%v", frame[0], key)
		}
		mu.Lock()
		frames = append(frames, sunk{len(frame), key, dur})
		mu.Unlock()
		got <- struct{}{}
		return nil
	}
	waitFrame := func() {
		t.Helper()
		select {
		case <-got:
		case <-time.After(3 * time.Second):
			t.Fatal("no frame")
		}
	}
	kf := make(chan struct{})
	var c Counters
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Counters: &c}, src, enc, sink, kf) }()

	// settle waits for the frame of a change and checks no other follows.
	settle := func() {
		t.Helper()
		waitFrame()
		for {
			select {
			case <-got:
				t.Error("two frames for one change")
			case <-time.After(150 * time.Millisecond):
				return
			}
		}
	}
	settle()
	for range 5 {
		p.paint(t, 0.1)
		settle()
	}
	mu.Lock()
	beforeKF := len(frames)
	mu.Unlock()
	kf <- struct{}{}
	waitFrame()
	select {
	case <-got:
		t.Error("frames kept coming on a static screen")
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(frames) != 7 || beforeKF != 6 {
		t.Fatalf("%d frames (%d before the request), want 6 then 1: %+v", len(frames), beforeKF, frames)
	}
	for i, f := range frames {
		if want := i == 0 || i == len(frames)-1; f.key != want {
			t.Errorf("frame %d keyframe=%v, want %v", i, f.key, want)
		}
	}
	st := c.Stats()
	t.Logf("stats: %+v; avg capture %v, encode %v", st, st.AvgCapture(), st.AvgEncode())
	if st.Frames != int64(len(frames)) || st.Keyframes != 2 || st.AvgCapture() <= 0 || st.AvgCapture() > 100*time.Millisecond {
		t.Errorf("stats %+v", st)
	}
}

// BenchmarkPipeline measures the real loop at full-screen size with a
// quarter of the screen changing per frame: ms/op is the latency from a
// change to its frame reaching the sink.
func BenchmarkPipeline(b *testing.B) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"1080p", 1920, 1080}, {"720p", 1280, 720}} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", sz.name, threads), func(b *testing.B) {
				srv := xvfb.StartT(b, xvfb.Options{Width: sz.w, Height: sz.h})
				src, err := capture.NewX11(srv.Display, image.Rectangle{}, capture.Options{MaxFPS: 1000})
				if err != nil {
					b.Fatal(err)
				}
				defer src.Close()
				p := newTiles(b, srv.Display, sz.w, sz.h)
				p.paint(b, 1)
				enc, err := encode.NewVP8(encode.Config{Width: sz.w, Height: sz.h, BitrateKbps: 2500, Threads: threads})
				if err != nil {
					b.Fatal(err)
				}
				defer enc.Close()
				got := make(chan struct{}, 1)
				sink := func([]byte, bool, time.Duration) error { got <- struct{}{}; return nil }
				var c Counters
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- Run(ctx, Config{FPS: 1000, Counters: &c}, src, enc, sink, nil) }()
				<-got
				b.ResetTimer()
				for b.Loop() {
					p.paint(b, 0.25)
					<-got
				}
				b.StopTimer()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				st := c.Stats()
				b.ReportMetric(float64(st.AvgCapture().Microseconds())/1000, "capture-ms")
				b.ReportMetric(float64(st.AvgEncode().Microseconds())/1000, "encode-ms")
				b.ReportMetric(float64(st.Bytes)/float64(st.Frames), "bytes/frame")
			})
		}
	}
}
