package helper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"porthole/agent/consent"
	"porthole/agent/support"
	"porthole/internal/wire"
)

// Errors of the service side.
var (
	// ErrNoHelper: no helper is connected (nobody is logged on at the
	// console, or the helper is being restarted).
	ErrNoHelper = errors.New("helper: no helper in a user session")
	// ErrGone: the helper went away during the call.
	ErrGone = errors.New("helper: the helper went away")
	// ErrViewOnly refuses input while the session is view-only (the
	// service's own check; the helper checks again).
	ErrViewOnly = errors.New("helper: session is view-only")
)

// Remote is one connected helper, as the service sees it. The service owns
// the connection; Close ends it. Its methods implement the OS services of
// the agent core by calling the helper.
type Remote struct {
	c   net.Conn
	w   *writer
	log *slog.Logger
	pid uint32 // the helper's process id, from its hello

	next atomic.Uint32 // the last call or stream id

	mu      sync.Mutex
	calls   map[uint32]chan *Msg     // guarded by mu: calls waiting for their reply
	shows   map[uint32]chan struct{} // guarded by mu: indicators shown, closed on Done
	streams map[uint32]*stream       // guarded by mu: running video streams
	dead    chan struct{}            // closed when the read loop ends
	err     error                    // why it ended; set before dead is closed
	closeMu sync.Once
}

type stream struct {
	frames chan *Video
	end    chan error // the helper's video_end, buffered 1
}

// helloTimeout bounds the wait for a new helper's hello.
const helloTimeout = 30 * time.Second

// NewRemote takes a helper's connection: it reads the helper's hello,
// then serves the connection until Close or a protocol error (after which
// every call fails with ErrGone). The caller has checked who connected
// (the pipe's ACL and localsock.PeerSID).
func NewRemote(c net.Conn, log *slog.Logger) (*Remote, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	_ = c.SetReadDeadline(time.Now().Add(helloTimeout))
	m, err := ReadMessage(c, true)
	if err != nil {
		return nil, fmt.Errorf("helper hello: %w", err)
	}
	hello, ok := m.(*Msg)
	if !ok || hello.T != THello {
		return nil, fmt.Errorf("%w: the helper did not start with hello", ErrMalformed)
	}
	_ = c.SetReadDeadline(time.Time{})
	r := &Remote{c: c, w: newWriter(c), log: log.With("component", "helper", "helper_pid", hello.PID), pid: hello.PID,
		calls: map[uint32]chan *Msg{}, shows: map[uint32]chan struct{}{}, streams: map[uint32]*stream{}, dead: make(chan struct{})}
	go r.read()
	return r, nil
}

// PID is the helper's process id as it said in its hello.
func (r *Remote) PID() uint32 { return r.pid }

// Done is closed when the connection has ended.
func (r *Remote) Done() <-chan struct{} { return r.dead }

// Close ends the connection and waits for its read loop.
func (r *Remote) Close() error {
	r.closeMu.Do(func() { r.c.Close() })
	<-r.dead
	return nil
}

// read dispatches what the helper sends until the connection ends or the
// helper breaks the protocol.
func (r *Remote) read() {
	var err error
	defer func() {
		r.mu.Lock()
		r.err = err
		close(r.dead)
		for id, ch := range r.shows {
			close(ch) // a lost indicator ends its session
			delete(r.shows, id)
		}
		r.mu.Unlock()
		r.c.Close()
	}()
	for {
		var m any
		if m, err = ReadMessage(r.c, true); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrClosed) {
				r.log.Warn("helper connection ended", "err", err)
			}
			return
		}
		switch m := m.(type) {
		case *Video:
			r.mu.Lock()
			s := r.streams[m.Stream]
			r.mu.Unlock()
			if s == nil {
				continue // a frame of a stream just stopped
			}
			select {
			case s.frames <- m:
			case <-time.After(5 * time.Second):
				// The next frames would decode against a missing one:
				// start again from a keyframe.
				r.log.Warn("video frame dropped: the session does not take frames", "stream", m.Stream)
				_ = r.w.control(&Msg{T: TKeyframe, Stream: m.Stream})
			}
		case *Msg:
			r.mu.Lock()
			switch m.T {
			case TReply:
				if ch := r.calls[m.ID]; ch != nil {
					ch <- m
					delete(r.calls, m.ID)
				}
			case TIndicatorDone:
				if ch := r.shows[m.ID]; ch != nil {
					close(ch)
					delete(r.shows, m.ID)
				}
			case TVideoEnd:
				if s := r.streams[m.Stream]; s != nil {
					select {
					case s.end <- errors.New(m.Err):
					default:
					}
				}
			case THello:
				r.log.Warn("second hello ignored")
			}
			r.mu.Unlock()
		}
	}
}

// gone is the error of a call on an ended connection.
func (r *Remote) gone() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil && !errors.Is(r.err, io.EOF) {
		return fmt.Errorf("%w: %w", ErrGone, r.err)
	}
	return ErrGone
}

// id is a fresh call or stream id (never 0).
func (r *Remote) id() uint32 {
	for {
		if id := r.next.Add(1); id != 0 {
			return id
		}
	}
}

// call sends m with a fresh id and waits for the reply. When ctx ends
// first, the helper is told to stop the call (stop) and ctx's error is
// returned.
func (r *Remote) call(ctx context.Context, m *Msg) (*Msg, error) {
	if m.ID == 0 {
		m.ID = r.id()
	}
	ch := make(chan *Msg, 1)
	r.mu.Lock()
	select {
	case <-r.dead:
		r.mu.Unlock()
		return nil, r.gone()
	default:
	}
	r.calls[m.ID] = ch
	r.mu.Unlock()
	if err := r.w.control(m); err != nil {
		r.forget(m.ID)
		return nil, fmt.Errorf("%w: %w", ErrGone, err)
	}
	select {
	case rep := <-ch:
		if rep.Err != "" {
			return rep, errors.New(rep.Err)
		}
		return rep, nil
	case <-ctx.Done():
		r.forget(m.ID)
		_ = r.w.control(&Msg{T: TStop, ID: m.ID})
		return nil, ctx.Err()
	case <-r.dead:
		return nil, r.gone()
	}
}

func (r *Remote) forget(id uint32) {
	r.mu.Lock()
	delete(r.calls, id)
	r.mu.Unlock()
}

// Displays lists the screens of the user's session.
func (r *Remote) Displays() ([]wire.Display, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := r.call(ctx, &Msg{T: TDisplays})
	if err != nil {
		return nil, err
	}
	return rep.Displays, nil
}

// CaptureMethod is how the helper captures the screen; "" when it cannot
// say (gone, or it has no capture).
func (r *Remote) CaptureMethod() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := r.call(ctx, &Msg{T: TDisplays})
	if err != nil {
		return ""
	}
	return rep.Capture
}

// Ask shows the consent dialog in the user's session.
func (r *Remote) Ask(ctx context.Context, req consent.Request) (consent.Answer, error) {
	rep, err := r.call(ctx, &Msg{T: TAsk, Requester: req.Requester, ViewOnly: req.ViewOnly, TimeoutMS: req.Timeout.Milliseconds()})
	if err != nil {
		return consent.Declined, err
	}
	switch rep.Answer {
	case "allowed":
		return consent.Allowed, nil
	case "timed_out":
		return consent.TimedOut, nil
	}
	return consent.Declined, nil
}

// Show shows the "screen shared" indicator in the user's session. done is
// closed when the user presses Done or the helper goes away.
func (r *Remote) Show(ctx context.Context, req consent.Request) (<-chan struct{}, func(), error) {
	id := r.id()
	done := make(chan struct{})
	r.mu.Lock()
	r.shows[id] = done
	r.mu.Unlock()
	if _, err := r.call(ctx, &Msg{T: TShow, ID: id, Requester: req.Requester, ViewOnly: req.ViewOnly}); err != nil {
		r.mu.Lock()
		delete(r.shows, id)
		r.mu.Unlock()
		return nil, nil, err
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.shows, id)
			r.mu.Unlock()
			_ = r.w.control(&Msg{T: TStop, ID: id})
		})
	}
	return done, stop, nil
}

// Form shows the request-support form in the user's session.
func (r *Remote) Form(ctx context.Context, text string, fields []string, timeout time.Duration) ([]string, error) {
	rep, err := r.call(ctx, &Msg{T: TForm, Text: text, Fields: fields, TimeoutMS: timeout.Milliseconds()})
	if err != nil {
		return nil, err
	}
	if len(rep.Values) != len(fields) {
		return nil, fmt.Errorf("%w: form answered %d values for %d fields", ErrMalformed, len(rep.Values), len(fields))
	}
	return rep.Values, nil
}

// Info shows a notice in the user's session.
func (r *Remote) Info(ctx context.Context, text string, timeout time.Duration) error {
	_, err := r.call(ctx, &Msg{T: TInfo, Text: text, TimeoutMS: timeout.Milliseconds()})
	return err
}

// RunVideo runs the capture → encode loop in the helper (support.VideoFunc).
func (r *Remote) RunVideo(ctx context.Context, d wire.Display, cfg support.EncoderConfig, sink func([]byte, bool, time.Duration) error, keyframes <-chan struct{}) error {
	id := r.id()
	s := &stream{frames: make(chan *Video, 4), end: make(chan error, 1)}
	r.mu.Lock()
	r.streams[id] = s
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.streams, id)
		r.mu.Unlock()
	}()
	if _, err := r.call(ctx, &Msg{T: TVideo, Stream: id, Display: &d, FPS: cfg.FPS, BitrateKbps: cfg.BitrateKbps, Threads: max(cfg.Threads, 1)}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("helper video: %w", err)
	}
	for {
		select {
		case <-ctx.Done():
			_ = r.w.control(&Msg{T: TVideoStop, Stream: id})
			return nil
		case <-keyframes:
			if err := r.w.control(&Msg{T: TKeyframe, Stream: id}); err != nil {
				return fmt.Errorf("%w: %w", ErrGone, err)
			}
		case f := <-s.frames:
			if err := sink(f.Data, f.Keyframe, f.Duration); err != nil {
				_ = r.w.control(&Msg{T: TVideoStop, Stream: id})
				return err
			}
		case err := <-s.end:
			return fmt.Errorf("helper video: %w", err)
		case <-r.dead:
			return r.gone()
		}
	}
}

// NewInjector opens an input injector in the helper (support.Config.NewInjector).
func (r *Remote) NewInjector(displays []wire.Display, viewOnly bool) (support.Injector, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id := r.id()
	if _, err := r.call(ctx, &Msg{T: TInjector, Stream: id, Displays: displays, ViewOnly: viewOnly}); err != nil {
		return nil, err
	}
	inj := &injector{r: r, id: id}
	inj.viewOnly.Store(viewOnly)
	return inj, nil
}

// injector forwards input to the helper without waiting for each event
// (input is latency-bound; the helper logs what it refuses).
type injector struct {
	r        *Remote
	id       uint32
	viewOnly atomic.Bool
	closed   atomic.Bool
}

func (i *injector) Inject(_ context.Context, ev wire.Input) error {
	if i.closed.Load() {
		return ErrGone
	}
	if i.viewOnly.Load() {
		return ErrViewOnly
	}
	b, err := wire.EncodeInput(ev)
	if err != nil {
		return err
	}
	return i.r.w.control(&Msg{T: TInput, Stream: i.id, Input: b})
}

func (i *injector) SetViewOnly(on bool) error {
	i.viewOnly.Store(on) // refuse at once; the helper follows
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := i.r.call(ctx, &Msg{T: TViewOnly, Stream: i.id, On: on})
	return err
}

func (i *injector) Close() error {
	if i.closed.Swap(true) {
		return nil
	}
	return i.r.w.control(&Msg{T: TInjectStop, Stream: i.id})
}
