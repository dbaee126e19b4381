// Package video runs one session's capture → encode loop: it asks the
// screen source for a frame only when it is ready to encode one, so the
// newest screen is always what gets encoded and nothing queues on the hot
// path; a static screen costs nothing because the source blocks.
package video

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// source yields screen frames. Next blocks until the screen changed since
// the previous frame (the first call returns at once) and honours ctx; the
// image stays valid until the next successful call, and a failed call
// leaves it unchanged.
type source interface {
	Next(ctx context.Context) (*image.YCbCr, error)
}

// grabTimer is implemented by sources that can say how long the last Next
// spent working rather than waiting (capture.X11).
type grabTimer interface {
	LastGrab() time.Duration
}

// encoder compresses one frame (encode.VP8). A nil frame means the encoder
// produced nothing for this input.
type encoder interface {
	Encode(img *image.YCbCr, pts time.Duration, forceKeyframe bool) (frame []byte, keyframe bool, err error)
}

// Sink receives each encoded frame in order. duration is the time since
// the previous frame's capture (1/FPS for the first), what pion's
// media.Sample.Duration wants. The sink must not keep frame's memory
// beyond the call unless it owns it (the encoder returns fresh slices).
type Sink func(frame []byte, keyframe bool, duration time.Duration) error

// Config tunes Run. Zero values take the defaults noted.
type Config struct {
	// FPS caps the frame rate. Default 30.
	FPS int
	// Counters, if set, receives per-stage measurements for logs and
	// benchmarks.
	Counters *Counters
	// Logger; nil discards.
	Logger *slog.Logger
	// IdleRefresh re-sends the unchanged screen as a (tiny) delta frame
	// when nothing was sent for this long. WebRTC receivers ask for a
	// keyframe after about 3 s without frames; a delta of an unchanged
	// image costs tens of bytes where that keyframe costs kilobytes.
	// Default 2s; negative disables.
	IdleRefresh time.Duration
}

// Run captures, encodes and sinks frames until ctx ends (it then returns
// nil) or a stage fails (it returns that error, wrapping ErrCapture,
// ErrEncode or ErrSink). The first frame, and the next one after any
// number of requests on keyframeRequests, is a keyframe; a request while
// the screen is static re-encodes the last frame as a keyframe. When
// producing a frame takes longer than 1/FPS, Run lowers the rate instead
// of falling behind. keyframeRequests may be nil.
func Run(ctx context.Context, cfg Config, src source, enc encoder, sink Sink, keyframeRequests <-chan struct{}) error {
	if cfg.FPS <= 0 {
		cfg.FPS = 30
	}
	if cfg.Counters == nil {
		cfg.Counters = new(Counters)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleRefresh == 0 {
		cfg.IdleRefresh = 2 * time.Second
	}
	l := &loop{
		cfg:    cfg,
		src:    src,
		enc:    enc,
		sink:   sink,
		log:    cfg.Logger.With("component", "video"),
		budget: time.Second / time.Duration(cfg.FPS),
	}
	l.interval = l.budget
	cfg.Counters.intervalNS.Store(int64(l.interval))

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	if keyframeRequests != nil {
		wg.Go(func() { l.watch(runCtx, keyframeRequests) })
	}
	err := l.run(runCtx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type loop struct {
	cfg    Config
	src    source
	enc    encoder
	sink   Sink
	log    *slog.Logger
	budget time.Duration

	keyPending atomic.Bool // a keyframe request arrived and is not served yet

	mu   sync.Mutex
	wake context.CancelCauseFunc // interrupts the pending Next; guarded by mu

	// Owned by run's goroutine.
	last     *image.YCbCr // last frame encoded; valid until Next succeeds
	start    time.Time
	lastPTS  time.Duration
	lastAt   time.Time // when the last frame's work began, for pacing
	slot     time.Time // when the next frame may begin
	sent     int
	work     time.Duration // smoothed capture+encode time per frame
	interval time.Duration
}

// watch turns keyframe requests into a flag plus a wake-up of a Next that
// waits on a static screen. Bursts coalesce in the flag.
func (l *loop) watch(ctx context.Context, reqs <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-reqs:
			if !ok {
				return
			}
			l.keyPending.Store(true)
			l.mu.Lock()
			if l.wake != nil {
				l.wake(errKeyframe)
			}
			l.mu.Unlock()
		}
	}
}

func (l *loop) run(ctx context.Context) error {
	l.start = time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.pace(ctx); err != nil {
			return err
		}
		if l.last != nil && l.keyPending.Swap(false) {
			// The screen did not change since the last frame (or we would
			// be holding a newer one): resend it as a keyframe.
			l.lastAt = time.Now()
			if err := l.encode(l.last, 0, true); err != nil {
				return err
			}
			continue
		}
		img, grab, err := l.next(ctx)
		if errors.Is(err, errKeyframe) {
			continue
		}
		if errors.Is(err, errIdle) {
			l.lastAt = time.Now()
			if err := l.encode(l.last, 0, false); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		force := l.last == nil
		if l.keyPending.Swap(false) {
			force = true
		}
		if err := l.encode(img, grab, force); err != nil {
			return err
		}
		l.last = img
	}
}

// pace waits for the next frame's slot (see nextSlot). Changes meanwhile accumulate in the source, so the frame taken
// afterwards is the newest.
func (l *loop) pace(ctx context.Context) error {
	if l.sent == 0 {
		return nil
	}
	wait := time.Until(l.slot)
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next asks the source for a frame, interruptibly by keyframe requests
// (errKeyframe) once a first frame exists.
func (l *loop) next(ctx context.Context) (*image.YCbCr, time.Duration, error) {
	nctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if l.last != nil {
		l.mu.Lock()
		l.wake = cancel
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			l.wake = nil
			l.mu.Unlock()
		}()
		if l.keyPending.Load() {
			return nil, 0, errKeyframe // arrived between the check in run and now
		}
		if idle := l.cfg.IdleRefresh; idle > 0 {
			t := time.AfterFunc(idle-time.Since(l.lastAt), func() { cancel(errIdle) })
			defer t.Stop()
		}
	}
	t0 := time.Now()
	img, err := l.src.Next(nctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		if c := context.Cause(nctx); errors.Is(c, errKeyframe) || errors.Is(c, errIdle) {
			return nil, 0, c
		}
		return nil, 0, fmt.Errorf("%w: %w", ErrCapture, err)
	}
	grab := time.Since(t0)
	if g, ok := l.src.(grabTimer); ok {
		grab = g.LastGrab()
	}
	l.lastAt = time.Now().Add(-grab)
	return img, grab, nil
}

func (l *loop) encode(img *image.YCbCr, grab time.Duration, force bool) error {
	pts := time.Since(l.start)
	t0 := time.Now()
	frame, key, err := l.enc.Encode(img, pts, force)
	enc := time.Since(t0)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEncode, err)
	}
	if l.sent > 0 { // the first frame pays the encoder's start-up
		l.adapt(grab + enc)
	}
	if frame == nil {
		return nil
	}
	dur := l.budget
	if l.sent > 0 {
		dur = pts - l.lastPTS
	}
	t1 := time.Now()
	if err := l.sink(frame, key, dur); err != nil {
		return fmt.Errorf("%w: %w", ErrSink, err)
	}
	l.cfg.Counters.add(grab, enc, time.Since(t1), len(frame), key)
	l.lastPTS = pts
	l.sent++
	l.nextSlot()
	return nil
}

// nextSlot schedules the next frame: the previous slot plus one interval,
// not the last frame's actual time plus one. A frame taken a little late
// (the source changes at the same rate, with jitter) must not push every
// later slot back until two changes fall into one slot and one is lost.
// A slot is never earlier than half an interval after the last frame, so
// the rate does not burst after a pause and stays at most FPS over time.
func (l *loop) nextSlot() {
	l.slot = l.slot.Add(l.interval)
	if floor := l.lastAt.Add(l.interval / 2); l.slot.Before(floor) {
		l.slot = floor
	}
}

// adapt keeps a smoothed per-frame cost and stretches the frame interval
// to 1.25× that cost (at most 1 s) when it exceeds the budget, leaving CPU
// for the rest of the machine instead of running flat out.
func (l *loop) adapt(work time.Duration) {
	if l.work == 0 {
		l.work = work
	} else {
		l.work += (work - l.work) / 8
	}
	iv := min(max(l.budget, l.work*5/4), time.Second)
	if iv != l.interval {
		if (iv > l.budget) != (l.interval > l.budget) {
			l.log.Debug("frame_rate_adapted", "interval_ms", iv.Milliseconds(), "work_ms", l.work.Milliseconds())
		}
		l.interval = iv
		l.cfg.Counters.intervalNS.Store(int64(iv))
	}
}
