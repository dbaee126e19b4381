package video

import (
	"context"
	"errors"
	"image"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/agent/capture/capturetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeEncoder records what it is asked to encode; it marks forced frames
// as keyframes, like libvpx does.
type fakeEncoder struct {
	delay time.Duration
	fail  error

	mu    sync.Mutex
	calls []encCall
}

type encCall struct {
	lumaAt0 byte // first luma byte, to tell frames apart
	pts     time.Duration
	force   bool
}

var _ encoder = (*fakeEncoder)(nil)

func (e *fakeEncoder) Encode(img *image.YCbCr, pts time.Duration, force bool) ([]byte, bool, error) {
	if e.fail != nil {
		return nil, false, e.fail
	}
	time.Sleep(e.delay)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, encCall{img.Y[0], pts, force})
	return []byte{byte(len(e.calls)), 1, 2}, force, nil
}

func (e *fakeEncoder) snapshot() []encCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]encCall(nil), e.calls...)
}

// fakeSink records what reaches the sink.
type fakeSink struct {
	mu     sync.Mutex
	frames []sunk
	got    chan struct{} // one tick per frame, non-blocking
	fail   error
}

type sunk struct {
	size int
	key  bool
	dur  time.Duration
}

func newSink() *fakeSink { return &fakeSink{got: make(chan struct{}, 1000)} }

func (s *fakeSink) sink(frame []byte, key bool, dur time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames = append(s.frames, sunk{len(frame), key, dur})
	s.got <- struct{}{}
	return s.fail
}

func (s *fakeSink) snapshot() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.frames...)
}

func (s *fakeSink) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-s.got:
		case <-time.After(2 * time.Second):
			t.Fatalf("timed out waiting for a frame (have %d)", len(s.snapshot()))
		}
	}
}

// start runs the loop in the background; the returned func stops it and
// returns Run's error.
func start(t *testing.T, cfg Config, src source, enc encoder, s *fakeSink, kf <-chan struct{}) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, src, enc, s.sink, kf) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// quiet asserts no frame reaches the sink for d.
func (s *fakeSink) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-s.got:
		t.Fatalf("unexpected frame; frames now %+v", s.snapshot())
	case <-time.After(d):
	}
}

func TestStaticScreenCostsNothing(t *testing.T) {
	src := capturetest.NewPattern(64, 48, false)
	enc, s := &fakeEncoder{}, newSink()
	stop := start(t, Config{FPS: 100}, src, enc, s, nil)
	s.wait(t, 1)
	s.quiet(t, 200*time.Millisecond)
	src.Change()
	s.wait(t, 1)
	if err := stop(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	got := s.snapshot()
	if len(got) != 2 || !got[0].key || got[1].key {
		t.Fatalf("frames %+v: want a keyframe then one delta", got)
	}
	if got[0].dur != 10*time.Millisecond {
		t.Errorf("first duration %v, want 1/FPS", got[0].dur)
	}
	if got[1].dur < 200*time.Millisecond {
		t.Errorf("second duration %v, want the time since the first (>200ms)", got[1].dur)
	}
	if src.Frames() != 2 {
		t.Errorf("source produced %d frames, want 2", src.Frames())
	}
}

// TestIdleRefresh: a static screen is re-sent as a delta frame (never a
// keyframe, never a new capture) every IdleRefresh, so the receiver does
// not time out and ask for a costly keyframe.
func TestIdleRefresh(t *testing.T) {
	src := capturetest.NewPattern(64, 48, false)
	enc, s := &fakeEncoder{}, newSink()
	stop := start(t, Config{FPS: 100, IdleRefresh: 100 * time.Millisecond}, src, enc, s, nil)
	s.wait(t, 4)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := s.snapshot()
	if !got[0].key {
		t.Fatalf("first frame not a keyframe: %+v", got)
	}
	for i, f := range got[1:] {
		if f.key {
			t.Fatalf("refresh %d is a keyframe", i+1)
		}
		if f.dur < 90*time.Millisecond {
			t.Fatalf("refresh %d after %v, want about 100ms", i+1, f.dur)
		}
	}
	if src.Frames() != 1 {
		t.Errorf("source produced %d frames, want 1: refreshes re-encode the last image", src.Frames())
	}
}

func TestKeyframeRequests(t *testing.T) {
	src := capturetest.NewPattern(64, 48, false)
	enc, s := &fakeEncoder{}, newSink()
	kf := make(chan struct{})
	start(t, Config{FPS: 100}, src, enc, s, kf)
	s.wait(t, 1)
	src.Change()
	s.wait(t, 1)

	// A request on a static screen re-sends the last frame as a keyframe.
	kf <- struct{}{}
	s.wait(t, 1)
	calls := enc.snapshot()
	if len(calls) != 3 || !calls[2].force || calls[2].lumaAt0 != calls[1].lumaAt0 {
		t.Fatalf("after a request: encoder calls %+v, want the last frame again, forced", calls)
	}
	if src.Frames() != 2 {
		t.Errorf("the source was asked for a new frame (%d)", src.Frames())
	}

	// A burst coalesces.
	for range 20 {
		kf <- struct{}{}
	}
	s.wait(t, 1)
	time.Sleep(100 * time.Millisecond)
	got := s.snapshot()
	if n := len(got) - 3; n < 1 || n > 2 {
		t.Errorf("a burst of 20 requests gave %d keyframes, want 1 or 2", n)
	}
	for _, f := range got[3:] {
		if !f.key {
			t.Errorf("frame %+v after requests is not a keyframe", f)
		}
	}

	// The next real change is a delta again.
	src.Change()
	s.wait(t, 1)
	if last := s.snapshot(); last[len(last)-1].key {
		t.Error("frame after the burst is still a keyframe")
	}
}

// A moving screen is capped at FPS, with no frame queued: every encode
// sees the newest frame.
func TestMovingScreenCapped(t *testing.T) {
	src := capturetest.NewPattern(64, 48, true)
	enc, s := &fakeEncoder{}, newSink()
	var c Counters
	stop := start(t, Config{FPS: 50, Counters: &c}, src, enc, s, nil)
	time.Sleep(400 * time.Millisecond)
	stop()
	n := len(s.snapshot())
	if n < 8 || n > 22 {
		t.Errorf("%d frames in 400ms at FPS 50, want about 20", n)
	}
	st := c.Stats()
	if st.Frames != int64(n) || st.Keyframes != 1 || st.Bytes != int64(3*n) || st.Interval != 20*time.Millisecond {
		t.Errorf("stats %+v for %d frames", st, n)
	}
	if src.Frames() != n {
		t.Errorf("source gave %d frames, sink got %d: frames were dropped or queued", src.Frames(), n)
	}
}

// When a frame costs more than the budget, the rate drops to what the
// machine sustains, with headroom.
func TestAdaptsToSlowEncoder(t *testing.T) {
	src := capturetest.NewPattern(64, 48, true)
	enc, s := &fakeEncoder{delay: 40 * time.Millisecond}, newSink()
	var c Counters
	stop := start(t, Config{FPS: 60, Counters: &c}, src, enc, s, nil)
	time.Sleep(600 * time.Millisecond)
	stop()
	st := c.Stats()
	if st.Interval < 45*time.Millisecond {
		t.Errorf("interval %v with a 40ms encoder, want >= 1.25 × 40ms", st.Interval)
	}
	if st.AvgEncode() < 40*time.Millisecond {
		t.Errorf("avg encode %v, want >= 40ms", st.AvgEncode())
	}
	if st.Frames > 14 {
		t.Errorf("%d frames in 600ms with a 40ms encoder", st.Frames)
	}
}

type failingSource struct{ err error }

func (f failingSource) Next(context.Context) (*image.YCbCr, error) { return nil, f.err }

func TestErrors(t *testing.T) {
	boom := errors.New("boom")
	img := capturetest.NewPattern(16, 16, true)
	for _, tc := range []struct {
		name string
		src  source
		enc  *fakeEncoder
		sink error
		want error
	}{
		{"capture", failingSource{boom}, &fakeEncoder{}, nil, ErrCapture},
		{"encode", img, &fakeEncoder{fail: boom}, nil, ErrEncode},
		{"sink", img, &fakeEncoder{}, boom, ErrSink},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink()
			s.fail = tc.sink
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := Run(ctx, Config{}, tc.src, tc.enc, s.sink, make(chan struct{}))
			if !errors.Is(err, tc.want) || !errors.Is(err, boom) {
				t.Errorf("Run = %v, want %v wrapping boom", err, tc.want)
			}
		})
	}
}
