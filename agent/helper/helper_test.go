package helper

import (
	"bytes"
	"context"
	"errors"
	"image"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/agent/capture/capturetest"
	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/input/inputtest"
	"porthole/agent/support"
	"porthole/internal/wire"
)

func TestMain(m *testing.M) {
	if childMain() { // this test binary started as a helper by a test
		return
	}
	// go-winio (the Windows pipes) keeps one I/O completion goroutine.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/Microsoft/go-winio.ioCompletionProcessor"))
}

// fakeEncoder "encodes" a frame as its number, marking keyframes.
type fakeEncoder struct{ n byte }

func (e *fakeEncoder) Encode(_ *image.YCbCr, _ time.Duration, key bool) ([]byte, bool, error) {
	e.n++
	if e.n == 1 {
		key = true
	}
	k := byte(0)
	if key {
		k = 1
	}
	return []byte{k, e.n}, key, nil
}
func (e *fakeEncoder) Close() error { return nil }

// recInjector is an inputtest.Recorder with the rest of support.Injector.
type recInjector struct {
	*inputtest.Recorder
	viewOnly atomic.Bool
	closed   atomic.Bool
}

func (r *recInjector) SetViewOnly(on bool) error { r.viewOnly.Store(on); return nil }
func (r *recInjector) Close() error              { r.closed.Store(true); return nil }

type fakeForm struct{}

func (fakeForm) Form(_ context.Context, text string, fields []string, _ time.Duration) ([]string, error) {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = text + ":" + f
	}
	return out, nil
}
func (fakeForm) Info(context.Context, string, time.Duration) error { return nil }

// fixture is a Local of fakes, as the helper of a test serves it.
type fixture struct {
	asker *consenttest.Fixed
	ind   *consenttest.Indicator
	rec   *inputtest.Recorder
	inj   chan *recInjector
}

func newFixture() *fixture {
	return &fixture{asker: &consenttest.Fixed{Answer: consent.Allowed}, ind: &consenttest.Indicator{},
		rec: &inputtest.Recorder{}, inj: make(chan *recInjector, 4)}
}

func (f *fixture) local() Local {
	return Local{
		Displays: func() ([]wire.Display, error) {
			return []wire.Display{{Index: 0, Width: 64, Height: 48, Primary: true}}, nil
		},
		CaptureMethod: func() string { return "gdi" },
		OpenSource: func(d wire.Display, _ int, _ *slog.Logger) (support.Source, error) {
			return patternSource{capturetest.NewPattern(d.Width, d.Height, true)}, nil
		},
		NewEncoder: func(support.EncoderConfig) (support.Encoder, error) { return &fakeEncoder{}, nil },
		NewInjector: func(_ []wire.Display, viewOnly bool) (support.Injector, error) {
			r := &recInjector{Recorder: f.rec}
			r.viewOnly.Store(viewOnly)
			f.inj <- r
			return r, nil
		},
		Asker: f.asker, Indicator: f.ind, Form: fakeForm{}, Info: fakeForm{},
	}
}

// patternSource gives capturetest.Pattern the rest of support.Source.
type patternSource struct{ *capturetest.Pattern }

func (p patternSource) Bounds() image.Rectangle { return image.Rect(0, 0, 64, 48) }
func (patternSource) Close() error              { return nil }

// connect runs Serve with l on one end of an in-memory pipe and returns
// the service's Remote on the other.
func connect(t *testing.T, l Local) *Remote {
	t.Helper()
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, b, l) }()
	r, err := NewRemote(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return r
}

// TestHelperCalls: each OS service of the core, called on the service
// side, is done by the helper's implementation.
func TestHelperCalls(t *testing.T) {
	f := newFixture()
	r := connect(t, f.local())
	var h Hub
	if _, err := h.Displays(); !errors.Is(err, ErrNoHelper) {
		t.Fatalf("Displays without a helper = %v, want ErrNoHelper", err)
	}
	if m := h.CaptureMethod(); m != "" {
		t.Fatalf("CaptureMethod without a helper = %q", m)
	}
	h.Set(r)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if d, err := h.Displays(); err != nil || len(d) != 1 || d[0].Width != 64 {
		t.Fatalf("Displays = %+v, %v", d, err)
	}
	if m := h.CaptureMethod(); m != "gdi" {
		t.Fatalf("CaptureMethod = %q, want the helper's", m)
	}
	if a, err := h.Ask(ctx, consent.Request{Requester: "Ann Admin", ViewOnly: true, Timeout: 5 * time.Second}); err != nil || a != consent.Allowed {
		t.Fatalf("Ask = %v, %v", a, err)
	}
	if got := f.asker.Requests(); len(got) != 1 || got[0] != (consent.Request{Requester: "Ann Admin", ViewOnly: true, Timeout: 5 * time.Second}) {
		t.Fatalf("the helper was asked %+v", got)
	}
	v, err := h.Form(ctx, "Need help", []string{"name", "email"}, time.Minute)
	if err != nil || len(v) != 2 || v[1] != "Need help:email" {
		t.Fatalf("Form = %q, %v", v, err)
	}
	if err := h.Info(ctx, "approved", time.Minute); err != nil {
		t.Fatal(err)
	}

	// The indicator: Done in the helper closes done at the service.
	done, stop, err := h.Show(ctx, consent.Request{Requester: "Ann Admin"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "indicator shown", func() bool { return len(f.ind.Shown()) == 1 })
	if !f.ind.End() {
		t.Fatal("nothing showing in the helper")
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Done in the helper did not reach the service")
	}
	stop()
	// stop from the service removes a second indicator.
	_, stop2, err := h.Show(ctx, consent.Request{Requester: "Ann Admin"})
	if err != nil {
		t.Fatal(err)
	}
	stop2()
	waitFor(t, "indicator stopped", f.ind.Stopped)

	// Video: encoded frames in order, the first a keyframe, a keyframe
	// again after a request.
	vctx, vcancel := context.WithCancel(ctx)
	keys := make(chan struct{}, 1)
	var frames [][]byte
	err = h.RunVideo(vctx, wire.Display{Width: 64, Height: 48}, support.EncoderConfig{FPS: 60, BitrateKbps: 100}, func(b []byte, key bool, _ time.Duration) error {
		if (b[0] == 1) != key {
			t.Errorf("frame %v arrived with keyframe %v", b, key)
		}
		frames = append(frames, append([]byte(nil), b...))
		switch len(frames) {
		case 3:
			keys <- struct{}{}
		case 8:
			vcancel()
		}
		return nil
	}, keys)
	if err != nil {
		t.Fatalf("RunVideo = %v", err)
	}
	for i, fr := range frames {
		if fr[1] != byte(i+1) {
			t.Fatalf("frame %d is encoder frame %d: out of order or lost", i, fr[1])
		}
	}
	if frames[0][0] != 1 || !keyAfter(frames, 3) {
		t.Fatalf("keyframes %v: want the first and one after the request", frames)
	}

	// Input: in order to the helper's injector; view-only refused at the
	// service at once and told to the helper.
	inj, err := h.NewInjector([]wire.Display{{Width: 64, Height: 48}}, false)
	if err != nil {
		t.Fatal(err)
	}
	hi := <-f.inj
	evs := []wire.Input{{Kind: wire.InputMove, X: 10, Y: 20}, {Kind: wire.InputButtonDown, Button: wire.ButtonLeft},
		{Kind: wire.InputKeyDown, Code: "KeyA"}, {Kind: wire.InputPaste, Text: "héllo"}}
	for _, ev := range evs {
		if err := inj.Inject(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "input in the helper", func() bool { return len(f.rec.Events()) == len(evs) })
	for i, ev := range f.rec.Events() {
		if ev != evs[i] {
			t.Fatalf("event %d arrived as %+v, want %+v", i, ev, evs[i])
		}
	}
	if err := inj.SetViewOnly(true); err != nil || !hi.viewOnly.Load() {
		t.Fatalf("SetViewOnly: %v (helper view-only %v)", err, hi.viewOnly.Load())
	}
	if err := inj.Inject(ctx, evs[0]); !errors.Is(err, ErrViewOnly) {
		t.Fatalf("input while view-only = %v", err)
	}
	inj.Close()
	waitFor(t, "injector closed", func() bool { return hi.closed.Load() })
}

func keyAfter(frames [][]byte, n int) bool {
	for _, f := range frames[n:] {
		if f[0] == 1 {
			return true
		}
	}
	return false
}

// TestHelperGone: when the helper goes away, a shown indicator's done
// closes (the session ends rather than run without a way to stop it) and
// calls fail with ErrGone.
func TestHelperGone(t *testing.T) {
	f := newFixture()
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, b, f.local()) }()
	r, err := NewRemote(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done, _, err := r.Show(context.Background(), consent.Request{Requester: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the helper process ends
	<-served
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the indicator's done stayed open after the helper went away")
	}
	if _, err := r.Displays(); !errors.Is(err, ErrGone) {
		t.Fatalf("Displays after the helper went = %v, want ErrGone", err)
	}
}

// TestRemoteRefusesABadHelper: a helper that breaks the protocol is cut
// off; one that does not say hello is refused.
func TestRemoteRefusesABadHelper(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		w := newWriter(b)
		_ = w.control(&Msg{T: TReply, ID: 1})
	}()
	if _, err := NewRemote(a, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("NewRemote without hello = %v", err)
	}

	a, b = net.Pipe()
	go func() {
		w := newWriter(b)
		_ = w.control(&Msg{T: THello, Version: Version})
		_ = w.frame(KindControl, nil, []byte(`{"t":"ask","id":1,"requester":"x"}`)) // a service message
	}()
	r, err := NewRemote(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a helper sending a service message was not cut off")
	}
	r.Close()
	b.Close()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// frameBytes is one frame as a writer writes it.
func frameBytes(t testing.TB, write func(*writer) error) []byte {
	var b bytes.Buffer
	if err := write(newWriter(&b)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
