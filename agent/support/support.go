// Package support runs remote-support sessions on the endpoint: it asks the
// end user for consent, and only after a Yes (or an explicit unattended
// policy) answers the broker's WebRTC offer, captures and encodes the screen,
// shows the "Done" indicator and injects the portal user's input.
//
// Nothing here knows the operating system: the screen, the encoder, the
// input injector and the dialogs come through Config as the small
// interfaces below, built for each OS by cmd/porthole-agent's platform
// files (Linux: X11 capture, libvpx, robotgo, zenity).
package support

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"porthole/agent/consent"
	"porthole/agent/stream"
	"porthole/agent/video"
	"porthole/internal/wire"
)

// asker asks the end user; indicator shows the running-session notice
// (consent.Zenity, consent.Terminal).
type asker interface {
	Ask(ctx context.Context, req consent.Request) (consent.Answer, error)
}

type indicator interface {
	Show(ctx context.Context, req consent.Request) (done <-chan struct{}, stop func(), err error)
}

// Source yields one display's frames (capture.X11). Next blocks until the
// screen changed since the previous frame (the first call returns at
// once) and honours ctx; the image stays valid until the next call.
// Bounds is the captured area, even-sized, in the display's coordinates.
type Source interface {
	Next(ctx context.Context) (*image.YCbCr, error)
	Bounds() image.Rectangle
	Close() error
}

// SourceFunc opens a frame source on display d; the source delivers at
// most maxFPS frames a second.
type SourceFunc func(d wire.Display, maxFPS int, log *slog.Logger) (Source, error)

// Encoder compresses frames to VP8 (encode.VP8). A nil frame with no
// error means the encoder produced nothing for this input.
type Encoder interface {
	Encode(img *image.YCbCr, pts time.Duration, forceKeyframe bool) (frame []byte, keyframe bool, err error)
	Close() error
}

// EncoderConfig is what a session asks of its encoder.
type EncoderConfig struct {
	Width, Height int
	FPS           int
	BitrateKbps   int
	Threads       int
}

// EncoderFunc starts an encoder for one capture.
type EncoderFunc func(EncoderConfig) (Encoder, error)

// VideoFunc runs a whole capture → encode loop elsewhere (on Windows, in
// the helper process in the user's session, which sends encoded frames:
// raw frames would be ~40 MB/s across the pipe). It captures display d,
// encodes at cfg (Width and Height are the display's), hands each frame to
// sink in order, makes the next frame a keyframe after each receive on
// keyframes, and returns nil when ctx ends or the error that stopped it.
type VideoFunc func(ctx context.Context, d wire.Display, cfg EncoderConfig, sink func(frame []byte, keyframe bool, dur time.Duration) error, keyframes <-chan struct{}) error

// Injector applies remote input (input.Robot).
type Injector interface {
	Inject(ctx context.Context, ev wire.Input) error
	SetViewOnly(on bool) error
	Close() error
}

// Config wires a Manager.
type Config struct {
	Asker     asker
	Indicator indicator
	API       *webrtc.API
	Send      func(wire.Message) error
	// Displays enumerates the screens; OpenSource captures one of them
	// and NewEncoder compresses what it captures. A session without them
	// ends with the reason.
	Displays   func() ([]wire.Display, error)
	OpenSource SourceFunc
	NewEncoder EncoderFunc
	// RunVideo, when set, replaces OpenSource and NewEncoder: the loop
	// runs elsewhere and delivers encoded frames.
	RunVideo VideoFunc
	// NewInjector creates the input Injector for a session; nil means
	// this endpoint accepts no remote input (view only).
	NewInjector func(displays []wire.Display, viewOnly bool) (Injector, error)
	// AllowUnattended is the endpoint's own policy: false (the default)
	// refuses a session that asks to skip the consent prompt, whatever the
	// broker's settings or grants say.
	AllowUnattended bool
	FPS             int // default 30
	BitrateKbps     int // default 2500
	Threads         int // encoder threads, default 1
	Logger          *slog.Logger
}

// Manager runs at most one session at a time.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	cur    *session // guarded by mu
	closed bool     // guarded by mu
	wg     sync.WaitGroup
}

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FPS == 0 {
		cfg.FPS = 30
	}
	if cfg.BitrateKbps == 0 {
		cfg.BitrateKbps = 2500
	}
	if cfg.Threads == 0 {
		cfg.Threads = 1
	}
	return &Manager{cfg: cfg, log: cfg.Logger.With("component", "support")}
}

type session struct {
	id      string
	start   wire.SessionStart
	offers  chan string
	updates chan wire.SessionUpdate
	expiry  chan wire.SessionExpiry // the broker's deadline and its final-countdown warning
	ended   chan string             // the broker's end reason
	cancel  context.CancelFunc
}

// Start takes the broker's request for a session: it asks the end user
// and, after a Yes, runs the session in its own goroutine. A second
// session while one runs is answered busy.
func (m *Manager) Start(ctx context.Context, msg *wire.SessionStart) { m.start(ctx, *msg) }

// Offer takes the broker's WebRTC offer for the running session.
func (m *Manager) Offer(_ context.Context, msg *wire.SDPOffer) {
	pass(m, msg.SessionID, func(s *session) chan string { return s.offers }, msg.SDP, "duplicate offer ignored")
}

// Update takes a change of the running session (view-only, display).
func (m *Manager) Update(_ context.Context, msg *wire.SessionUpdate) {
	pass(m, msg.SessionID, func(s *session) chan wire.SessionUpdate { return s.updates }, *msg, "session update dropped: too many pending")
}

// Expiry takes the running session's deadline or final-countdown warning.
func (m *Manager) Expiry(_ context.Context, msg *wire.SessionExpiry) {
	pass(m, msg.SessionID, func(s *session) chan wire.SessionExpiry { return s.expiry }, *msg, "session expiry notice dropped: too many pending")
}

// End takes the broker's end of the running session and its reason.
func (m *Manager) End(_ context.Context, msg *wire.SessionEnd) {
	pass(m, msg.SessionID, func(s *session) chan string { return s.ended }, msg.Reason, "")
}

// pass hands v to a channel (picked by ch) of session id, if it is the
// running one, without blocking the link's read loop: when the channel is
// full v is dropped, with the warning drop unless it is empty.
func pass[T any](m *Manager, id string, ch func(*session) chan T, v T, drop string) {
	s := m.current(id)
	if s == nil {
		return
	}
	select {
	case ch(s) <- v:
	default:
		if drop != "" {
			m.log.Warn(drop, "session_id", id)
		}
	}
}

func (m *Manager) current(id string) *session {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != nil && m.cur.id == id {
		return m.cur
	}
	return nil
}

func (m *Manager) start(parent context.Context, st wire.SessionStart) {
	m.mu.Lock()
	if m.closed || m.cur != nil {
		m.mu.Unlock()
		m.send(&wire.Consent{SessionID: st.SessionID, Answer: wire.AnswerBusy})
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	s := &session{id: st.SessionID, start: st, offers: make(chan string, 1), updates: make(chan wire.SessionUpdate, 8),
		expiry: make(chan wire.SessionExpiry, 8),
		ended:  make(chan string, 1), cancel: cancel}
	m.cur = s
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		defer cancel()
		reason := m.run(ctx, s)
		m.mu.Lock()
		m.cur = nil
		m.mu.Unlock()
		m.log.Info("session over", "session_id", s.id, "reason", reason)
	}()
}

// Close ends the running session ("agent stopped") and waits.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	s := m.cur
	m.mu.Unlock()
	if s != nil {
		s.cancel()
	}
	m.wg.Wait()
}

func (m *Manager) send(msg wire.Message) {
	if err := m.cfg.Send(msg); err != nil {
		m.log.Warn("send to broker failed", "type", msg.Type(), "err", err)
	}
}

// errNoCapture ends a session on an endpoint built without screen capture
// or encoder (the agent refuses to start like that; tests may not).
var errNoCapture = errors.New("this endpoint has no screen capture or encoder")

// endReasonGrace is how long a closed media connection waits for the
// session-end message that explains it (it travels on the link).
const endReasonGrace = 2 * time.Second

// run is one session from consent to teardown; it returns the end reason.
func (m *Manager) run(ctx context.Context, s *session) string {
	log := m.log.With("session_id", s.id)
	req := consent.Request{Requester: s.start.Requester, ViewOnly: s.start.ViewOnly, Timeout: time.Duration(s.start.ConsentTimeoutSeconds) * time.Second}

	// 1. Consent. No pixel leaves the endpoint before it is granted.
	answer := m.ask(ctx, log, s, req)
	c := &wire.Consent{SessionID: s.id, Answer: answer}
	if answer == wire.AnswerRefusedByPolicy {
		c.Detail = wire.UnattendedRefused
	}
	m.send(c)
	if answer != wire.AnswerAllowed && answer != wire.AnswerUnattended {
		return "consent " + answer
	}

	// 2. The broker's offer.
	var offer string
	select {
	case offer = <-s.offers:
	case r := <-s.ended:
		return r
	case <-ctx.Done():
		return "agent stopped"
	case <-time.After(30 * time.Second):
		m.send(&wire.SessionEnd{SessionID: s.id, Reason: "no offer from the broker"})
		return "no offer"
	}
	sender, err := stream.New(m.cfg.API, m.cfg.Logger.With("session_id", s.id))
	if err != nil {
		return m.fail(s, "could not start the media connection", err)
	}
	defer sender.Close()
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	answerSDP, err := sender.Answer(actx, offer)
	cancel()
	if err != nil {
		return m.fail(s, "could not answer the broker's offer", err)
	}
	m.send(&wire.SDPAnswer{SessionID: s.id, SDP: answerSDP})

	// 3. The end user's indicator with its Done button. The broker sends
	// the expiry before its offer, so the first indicator already shows it.
	var expiry *wire.SessionExpiry
	for drained := false; !drained; {
		select {
		case e := <-s.expiry:
			expiry = &e
		default:
			drained = true
		}
	}
	var doneByUser <-chan struct{}
	stopIndicator := func() {}
	defer func() { stopIndicator() }()
	showIndicator := func() error {
		if m.cfg.Indicator == nil {
			return nil
		}
		stopIndicator()
		d, stop, err := m.cfg.Indicator.Show(ctx, indicatorRequest(req, expiry, time.Now()))
		if err != nil {
			doneByUser, stopIndicator = nil, func() {}
			return err
		}
		doneByUser, stopIndicator = d, stop
		return nil
	}
	if err := showIndicator(); err != nil {
		log.Warn("session indicator could not be shown", "err", err)
	}

	// 4. Input (refused by the Injector while view-only) and video.
	displays, err := m.displays()
	if err != nil {
		return m.fail(s, "no display to capture", err)
	}
	var inj Injector
	if m.cfg.NewInjector != nil {
		if inj, err = m.cfg.NewInjector(displays, s.start.ViewOnly); err != nil {
			log.Warn("remote input unavailable", "err", err)
			inj = nil
		} else {
			defer inj.Close()
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	inCtx, stopInput := context.WithCancel(ctx)
	defer stopInput()
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.inputLoop(inCtx, log, sender, inj)
	}()

	display := s.start.Display
	vid := m.startVideo(ctx, s, log, sender, displays, display)
	defer func() { vid.stop() }()

	for {
		select {
		case <-doneByUser:
			reason := "ended by the end user (Done)"
			m.send(&wire.SessionEnd{SessionID: s.id, Reason: reason})
			return reason
		case r := <-s.ended:
			return r
		case <-sender.Done():
			// The broker tells the link why before it drops the media leg,
			// but the two travel separately: give the reason a moment.
			grace := time.NewTimer(endReasonGrace)
			defer grace.Stop()
			select {
			case r := <-s.ended:
				return r
			case <-grace.C:
			}
			reason := "the agent's media connection closed"
			m.send(&wire.SessionEnd{SessionID: s.id, Reason: reason})
			return reason
		case err := <-vid.errc:
			return m.fail(s, "screen capture stopped", err)
		case e := <-s.expiry:
			// zenity cannot change a window's text, so the indicator is
			// shown again with the new deadline or the final countdown.
			expiry = &e
			if e.Warning {
				log.Info("session_expiry_warning", "remaining_seconds", e.RemainingSeconds)
			}
			if err := showIndicator(); err != nil && m.cfg.Indicator != nil {
				// The end user must never lose the way to stop sharing.
				return m.fail(s, "the session indicator could not be shown", err)
			}
		case u := <-s.updates:
			if inj != nil {
				if err := inj.SetViewOnly(u.ViewOnly); err != nil {
					log.Warn("set view-only", "err", err)
				}
			}
			if u.Display != display {
				if u.Display < 0 || u.Display >= len(displays) {
					log.Warn("broker asked for a display that does not exist", "display", u.Display)
					continue
				}
				vid.stop()
				display = u.Display
				vid = m.startVideo(ctx, s, log, sender, displays, display)
			}
		case <-ctx.Done():
			reason := "the agent stopped"
			m.send(&wire.SessionEnd{SessionID: s.id, Reason: reason})
			return reason
		}
	}
}

func (m *Manager) ask(ctx context.Context, log *slog.Logger, s *session, req consent.Request) string {
	if s.start.Consent == wire.ConsentUnattended {
		if !m.cfg.AllowUnattended {
			log.Warn("unattended session refused: the endpoint's policy does not allow it", "requester", s.start.Requester)
			return wire.AnswerRefusedByPolicy
		}
		log.Warn("unattended session: not asking the end user (broker and endpoint policy)", "requester", s.start.Requester)
		return wire.AnswerUnattended
	}
	if m.cfg.Asker == nil {
		return wire.AnswerError
	}
	type result struct {
		a   consent.Answer
		err error
	}
	got := make(chan result, 1)
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		a, err := m.cfg.Asker.Ask(actx, req)
		got <- result{a, err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			log.Warn("consent prompt failed; treating as No", "err", r.err)
			return wire.AnswerError
		}
		log.Info("consent answered", "answer", r.a.String())
		switch r.a {
		case consent.Allowed:
			return wire.AnswerAllowed
		case consent.TimedOut:
			return wire.AnswerTimedOut
		}
		return wire.AnswerDeclined
	case <-s.ended: // the portal user gave up while the prompt was open
		cancel()
		<-got
		return wire.AnswerDeclined
	}
}

func (m *Manager) fail(s *session, reason string, err error) string {
	m.log.Error(reason, "session_id", s.id, "err", err)
	m.send(&wire.SessionEnd{SessionID: s.id, Reason: reason})
	return reason
}

func (m *Manager) displays() ([]wire.Display, error) {
	if m.cfg.Displays == nil {
		return nil, errors.New("no display enumeration configured")
	}
	d, err := m.cfg.Displays()
	if err == nil && len(d) == 0 {
		err = errors.New("no displays")
	}
	return d, err
}

func (m *Manager) inputLoop(ctx context.Context, log *slog.Logger, sender *stream.Sender, inj Injector) {
	var refused int
	for {
		select {
		case <-ctx.Done():
			if refused > 0 {
				log.Info("input refused during session", "count", refused)
			}
			return
		case msg := <-sender.Input():
			if inj == nil {
				refused++
				continue
			}
			ev, err := wire.DecodeInput(msg)
			if err != nil {
				refused++
				continue
			}
			if err := inj.Inject(ctx, ev); err != nil {
				refused++
			}
		}
	}
}

// videoRun is one capture→encode loop on one display.
type videoRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	errc   chan error
}

func (v *videoRun) stop() {
	v.cancel()
	<-v.done
}

func (m *Manager) startVideo(ctx context.Context, s *session, log *slog.Logger, sender *stream.Sender, displays []wire.Display, idx int) *videoRun {
	vctx, cancel := context.WithCancel(ctx)
	v := &videoRun{cancel: cancel, done: make(chan struct{}), errc: make(chan error, 1)}
	go func() {
		defer close(v.done)
		if err := m.video(vctx, s, log, sender, displays[idx]); err != nil && vctx.Err() == nil {
			v.errc <- err
		}
	}()
	return v
}

func (m *Manager) video(ctx context.Context, s *session, log *slog.Logger, sender *stream.Sender, d wire.Display) error {
	if m.cfg.RunVideo != nil {
		ec := EncoderConfig{Width: d.Width, Height: d.Height, FPS: m.cfg.FPS, BitrateKbps: m.cfg.BitrateKbps, Threads: m.cfg.Threads}
		sink := func(frame []byte, _ bool, dur time.Duration) error { return sender.WriteFrame(frame, dur) }
		return m.cfg.RunVideo(ctx, d, ec, sink, sender.KeyframeRequests())
	}
	if m.cfg.OpenSource == nil || m.cfg.NewEncoder == nil {
		return errNoCapture
	}
	// The video loop paces frames on a schedule (agent/video); the capture's
	// own minimum gap is set above it so it never delays a frame on time.
	src, err := m.cfg.OpenSource(d, 2*m.cfg.FPS, log)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	defer src.Close()
	b := src.Bounds()
	enc, err := m.cfg.NewEncoder(EncoderConfig{Width: b.Dx(), Height: b.Dy(), FPS: m.cfg.FPS, BitrateKbps: m.cfg.BitrateKbps, Threads: m.cfg.Threads})
	if err != nil {
		return fmt.Errorf("encoder: %w", err)
	}
	defer enc.Close()
	var counters video.Counters
	start := time.Now()
	sink := func(frame []byte, _ bool, dur time.Duration) error { return sender.WriteFrame(frame, dur) }
	err = video.Run(ctx, video.Config{FPS: m.cfg.FPS, Counters: &counters, Logger: log}, src, enc, sink, sender.KeyframeRequests())
	st := counters.Stats()
	log.Info("session video stats", "display", d.Index, "width", b.Dx(), "height", b.Dy(), "frames", st.Frames, "keyframes", st.Keyframes,
		"bytes", st.Bytes, "capture_ms_avg", ms(st.AvgCapture()), "encode_ms_avg", ms(st.AvgEncode()), "seconds", time.Since(start).Seconds())
	return err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// indicatorRequest adds the session's deadline to the indicator: its
// requester line reads "NAME, until 15:04" and, once the broker warns,
// "NAME, ends in 2:00". The time is the agent's local clock plus the
// broker's remaining seconds, so a skewed endpoint clock shows the right span.
func indicatorRequest(req consent.Request, e *wire.SessionExpiry, now time.Time) consent.Request {
	if e == nil {
		return req
	}
	left := time.Duration(e.RemainingSeconds) * time.Second
	if e.Warning {
		req.Requester = fmt.Sprintf("%s, session ends in %d:%02d", req.Requester, e.RemainingSeconds/60, e.RemainingSeconds%60)
	} else {
		req.Requester = fmt.Sprintf("%s, session until %s", req.Requester, now.Add(left).Format("15:04"))
	}
	return req
}
