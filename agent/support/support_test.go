package support

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/internal/rtcnet"
	"porthole/internal/rtcnet/rtcnettest"
	"porthole/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 10 * time.Second

// platformFake records how a session uses the OS services of its Config.
type platformFake struct {
	mu       sync.Mutex
	opened   []string // "display maxFPS"
	encoders []EncoderConfig
	frames   int
	closed   []string
	encoded  chan struct{} // one send per frame encoded
}

func (p *platformFake) note(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

// source is a static screen of one display: a first frame at once, then
// nothing until the session ends.
type source struct {
	p    *platformFake
	rect image.Rectangle
	img  *image.YCbCr
	sent bool
}

func (s *source) Next(ctx context.Context) (*image.YCbCr, error) {
	if !s.sent {
		s.sent = true
		return s.img, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *source) Bounds() image.Rectangle { return s.rect }

func (s *source) Close() error {
	s.p.note(func() { s.p.closed = append(s.p.closed, "source") })
	return nil
}

type encoder struct{ p *platformFake }

func (e encoder) Encode(*image.YCbCr, time.Duration, bool) ([]byte, bool, error) {
	e.p.note(func() { e.p.frames++ })
	select {
	case e.p.encoded <- struct{}{}:
	default:
	}
	return []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, true, nil
}

func (e encoder) Close() error {
	e.p.note(func() { e.p.closed = append(e.p.closed, "encoder") })
	return nil
}

// startSession starts a Manager with the platform fake (or none when p is nil),
// gets consent and answers the broker's offer; it returns the messages
// the Manager sends.
func startSession(t *testing.T, p *platformFake, opts ...func(*Config)) (*Manager, <-chan wire.Message) {
	t.Helper()
	api, closer, err := rtcnet.NewAPI(rtcnet.Config{ListenIP: "127.0.0.1", Loopback: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	sent := make(chan wire.Message, 32)
	two := []wire.Display{{Index: 0, Width: 640, Height: 480, Primary: true}, {Index: 1, X: 640, Width: 320, Height: 240}}
	cfg := Config{Asker: &consenttest.Fixed{Answer: consent.Allowed}, API: api, FPS: 15,
		Send:     func(m wire.Message) error { sent <- m; return nil },
		Displays: func() ([]wire.Display, error) { return two, nil }}
	if p != nil {
		cfg.OpenSource = func(d wire.Display, maxFPS int, _ *slog.Logger) (Source, error) {
			p.note(func() { p.opened = append(p.opened, fmt.Sprintf("%d %d", d.Index, maxFPS)) })
			r := image.Rect(d.X, d.Y, d.X+d.Width, d.Y+d.Height)
			return &source{p: p, rect: r, img: image.NewYCbCr(image.Rect(0, 0, d.Width, d.Height), image.YCbCrSubsampleRatio420)}, nil
		}
		cfg.NewEncoder = func(c EncoderConfig) (Encoder, error) {
			p.note(func() { p.encoders = append(p.encoders, c) })
			return encoder{p}, nil
		}
	}
	for _, o := range opts {
		o(&cfg)
	}
	m := New(cfg)
	t.Cleanup(m.Close)
	ctx := context.Background()
	m.Start(ctx, &wire.SessionStart{SessionID: "s1", Requester: "alice", Display: 1})
	if c, ok := next(t, sent).(*wire.Consent); !ok || c.Answer != wire.AnswerAllowed {
		t.Fatalf("sent %+v, want consent allowed", c)
	}
	pc, offer := rtcnettest.Offer(t, api)
	m.Offer(ctx, &wire.SDPOffer{SessionID: "s1", SDP: offer})
	a, ok := next(t, sent).(*wire.SDPAnswer)
	if !ok {
		t.Fatalf("sent %+v, want the SDP answer", a)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: a.SDP}); err != nil {
		t.Fatal(err)
	}
	return m, sent
}

func next(t *testing.T, sent <-chan wire.Message) wire.Message {
	t.Helper()
	select {
	case m := <-sent:
		return m
	case <-time.After(wait):
		t.Fatal("the session sent nothing")
		return nil
	}
}

// TestSessionUsesThePlatform: a session captures the display the broker
// asked for through OpenSource (at twice the frame rate, so capture never
// delays a frame), encodes at the source's size through NewEncoder, and
// closes both when the session ends.
func TestSessionUsesThePlatform(t *testing.T) {
	p := &platformFake{encoded: make(chan struct{}, 1)}
	m, _ := startSession(t, p)
	select {
	case <-p.encoded:
	case <-time.After(wait):
		t.Fatal("no frame encoded")
	}
	m.End(context.Background(), &wire.SessionEnd{SessionID: "s1", Reason: "Off"})
	m.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := cmp.Diff([]string{"1 30"}, p.opened); d != "" {
		t.Errorf("sources opened (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]EncoderConfig{{Width: 320, Height: 240, FPS: 15, BitrateKbps: 2500, Threads: 1}}, p.encoders); d != "" {
		t.Errorf("encoders (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"encoder", "source"}, p.closed); d != "" {
		t.Errorf("closed (-want +got):\n%s", d)
	}
}

// TestSessionWithoutCapture: an endpoint assembled without capture ends
// the session with the reason instead of sending nothing.
func TestSessionWithoutCapture(t *testing.T) {
	_, sent := startSession(t, nil)
	e, ok := next(t, sent).(*wire.SessionEnd)
	if !ok || e.SessionID != "s1" || e.Reason != "screen capture stopped" {
		t.Fatalf("sent %+v, want the session's end for want of capture", e)
	}
}

// TestSessionRunsVideoElsewhere: with RunVideo (the Windows helper) the
// session hands the whole capture → encode loop over: the display the
// broker asked for at its own size, the frame rate and bitrate; what it
// sinks goes out, and the loop is stopped when the session ends.
func TestSessionRunsVideoElsewhere(t *testing.T) {
	type call struct {
		d   wire.Display
		cfg EncoderConfig
	}
	calls := make(chan call, 1)
	sunk := make(chan error, 1)
	stopped := make(chan struct{})
	m, _ := startSession(t, nil, func(c *Config) {
		c.RunVideo = func(ctx context.Context, d wire.Display, cfg EncoderConfig, sink func([]byte, bool, time.Duration) error, _ <-chan struct{}) error {
			calls <- call{d, cfg}
			sunk <- sink([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, true, time.Second/15)
			<-ctx.Done()
			close(stopped)
			return nil
		}
	})
	select {
	case c := <-calls:
		if c.d.Index != 1 || c.cfg != (EncoderConfig{Width: 320, Height: 240, FPS: 15, BitrateKbps: 2500, Threads: 1}) {
			t.Fatalf("RunVideo(%+v, %+v)", c.d, c.cfg)
		}
	case <-time.After(wait):
		t.Fatal("RunVideo not called")
	}
	if err := <-sunk; err != nil {
		t.Fatalf("sink: %v", err)
	}
	m.End(context.Background(), &wire.SessionEnd{SessionID: "s1", Reason: "Off"})
	select {
	case <-stopped:
	case <-time.After(wait):
		t.Fatal("the video loop ran on after the session ended")
	}
}
