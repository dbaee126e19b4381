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
	"time"

	"porthole/agent/consent"
	"porthole/agent/support"
	"porthole/agent/video"
	"porthole/internal/wire"
)

// Local is what the helper does in the user's session: the OS services
// (on Windows the GDI/DXGI capture, libvpx, SendInput and the dialogs; in
// tests the fakes of capturetest, inputtest and consenttest). A nil field
// answers its calls with an error.
type Local struct {
	Displays func() ([]wire.Display, error)
	// CaptureMethod names how OpenSource captures (nil: not reported).
	CaptureMethod func() string
	OpenSource    support.SourceFunc
	NewEncoder    support.EncoderFunc
	NewInjector   func(displays []wire.Display, viewOnly bool) (support.Injector, error)
	Asker         consent.Asker
	Indicator     consent.Indicator
	Form          interface {
		Form(ctx context.Context, text string, fields []string, timeout time.Duration) ([]string, error)
	}
	Info interface {
		Info(ctx context.Context, text string, timeout time.Duration) error
	}
	Logger *slog.Logger
}

var errNotHere = errors.New("not available in this helper")

// Serve is the helper's side of the pipe: it says hello, then does what
// the service asks until the connection ends (it returns nil) or ctx ends.
// Everything it started (dialogs, video, injectors) is stopped before it
// returns. The service is trusted here (the helper connected to a pipe
// only SYSTEM can create), but its messages are still decoded strictly.
func Serve(ctx context.Context, c net.Conn, l Local) error {
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{l: l, w: newWriter(c), log: l.Logger.With("component", "helper"),
		calls: map[uint32]context.CancelFunc{}, streams: map[uint32]*videoStream{}, injectors: map[uint32]support.Injector{}}
	ctx, cancel := context.WithCancel(ctx)
	defer s.wg.Wait()
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer s.closeInjectors()
	if err := s.w.control(&Msg{T: THello, Version: Version, PID: uint32(os.Getpid())}); err != nil {
		return fmt.Errorf("helper hello: %w", err)
	}
	for {
		m, err := ReadMessage(c, false)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
		s.handle(ctx, m.(*Msg))
	}
}

type server struct {
	l   Local
	w   *writer
	log *slog.Logger
	wg  sync.WaitGroup

	mu        sync.Mutex
	calls     map[uint32]context.CancelFunc // guarded by mu: running calls and shown indicators, by id
	streams   map[uint32]*videoStream       // guarded by mu
	injectors map[uint32]support.Injector   // used by the read loop only
}

type videoStream struct {
	cancel    context.CancelFunc
	keyframes chan struct{}
}

func (s *server) handle(ctx context.Context, m *Msg) {
	switch m.T {
	case TStop:
		s.mu.Lock()
		cancel := s.calls[m.ID]
		s.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	case TKeyframe, TVideoStop:
		s.mu.Lock()
		v := s.streams[m.Stream]
		s.mu.Unlock()
		switch {
		case v == nil:
		case m.T == TKeyframe:
			select {
			case v.keyframes <- struct{}{}:
			default:
			}
		default:
			v.cancel()
		}
	case TInjector:
		err := errNotHere
		if s.l.NewInjector != nil {
			var inj support.Injector
			if inj, err = s.l.NewInjector(m.Displays, m.ViewOnly); err == nil {
				if old := s.injectors[m.Stream]; old != nil {
					old.Close()
				}
				s.injectors[m.Stream] = inj
			}
		}
		s.reply(m.ID, err, nil)
	case TInput:
		inj := s.injectors[m.Stream]
		ev, err := wire.DecodeInput(m.Input)
		if inj == nil || err != nil {
			return
		}
		if err := inj.Inject(ctx, ev); err != nil {
			s.log.Debug("input refused", "err", err)
		}
	case TViewOnly:
		err := errNotHere
		if inj := s.injectors[m.Stream]; inj != nil {
			err = inj.SetViewOnly(m.On)
		}
		s.reply(m.ID, err, nil)
	case TInjectStop:
		if inj := s.injectors[m.Stream]; inj != nil {
			inj.Close()
			delete(s.injectors, m.Stream)
		}
	case TVideo:
		s.video(ctx, m)
	default: // the calls that may block on the user: one goroutine each
		cctx, cancel := context.WithCancel(ctx)
		s.mu.Lock()
		s.calls[m.ID] = cancel
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.calls, m.ID)
				s.mu.Unlock()
				cancel()
			}()
			s.call(cctx, m)
		}()
	}
}

// call answers one blocking call (displays, ask, show, form, info).
func (s *server) call(ctx context.Context, m *Msg) {
	timeout := time.Duration(m.TimeoutMS) * time.Millisecond
	req := consent.Request{Requester: m.Requester, ViewOnly: m.ViewOnly, Timeout: timeout}
	switch m.T {
	case TDisplays:
		if s.l.Displays == nil {
			s.reply(m.ID, errNotHere, nil)
			return
		}
		d, err := s.l.Displays()
		if len(d) > maxDisplay {
			d = d[:maxDisplay]
		}
		rep := &Msg{Displays: d}
		if s.l.CaptureMethod != nil {
			rep.Capture = s.l.CaptureMethod()
		}
		s.reply(m.ID, err, rep)
	case TAsk:
		if s.l.Asker == nil {
			s.reply(m.ID, errNotHere, nil)
			return
		}
		a, err := s.l.Asker.Ask(ctx, req)
		answer := "declined"
		switch a {
		case consent.Allowed:
			answer = "allowed"
		case consent.TimedOut:
			answer = "timed_out"
		}
		s.reply(m.ID, err, &Msg{Answer: answer})
	case TShow:
		if s.l.Indicator == nil {
			s.reply(m.ID, errNotHere, nil)
			return
		}
		done, stop, err := s.l.Indicator.Show(ctx, req)
		s.reply(m.ID, err, nil)
		if err != nil {
			return
		}
		defer stop()
		select {
		case <-done:
			_ = s.w.control(&Msg{T: TIndicatorDone, ID: m.ID})
		case <-ctx.Done(): // stop from the service, or the end of Serve
		}
	case TForm:
		if s.l.Form == nil {
			s.reply(m.ID, errNotHere, nil)
			return
		}
		v, err := s.l.Form.Form(ctx, m.Text, m.Fields, timeout)
		s.reply(m.ID, err, &Msg{Values: v})
	case TInfo:
		if s.l.Info == nil {
			s.reply(m.ID, errNotHere, nil)
			return
		}
		s.reply(m.ID, s.l.Info.Info(ctx, m.Text, timeout), nil)
	}
}

// reply answers call id with err or, on success, the fields of res.
func (s *server) reply(id uint32, err error, res *Msg) {
	r := &Msg{}
	if err != nil {
		r.Err = err.Error()
		if len(r.Err) > maxText {
			r.Err = r.Err[:maxText]
		}
	} else if res != nil {
		r = res
	}
	r.T, r.ID = TReply, id
	if err := s.w.control(r); err != nil {
		s.log.Debug("reply not sent", "err", err)
	}
}

// video opens the capture and encoder of m's display, answers, and runs
// the loop in its own goroutine until video_stop or an error (told to the
// service with video_end).
func (s *server) video(ctx context.Context, m *Msg) {
	if s.l.OpenSource == nil || s.l.NewEncoder == nil {
		s.reply(m.ID, errNotHere, nil)
		return
	}
	src, err := s.l.OpenSource(*m.Display, 2*m.FPS, s.log)
	if err != nil {
		s.reply(m.ID, fmt.Errorf("capture: %w", err), nil)
		return
	}
	b := src.Bounds()
	enc, err := s.l.NewEncoder(support.EncoderConfig{Width: b.Dx(), Height: b.Dy(), FPS: m.FPS, BitrateKbps: m.BitrateKbps, Threads: m.Threads})
	if err != nil {
		src.Close()
		s.reply(m.ID, fmt.Errorf("encoder: %w", err), nil)
		return
	}
	vctx, cancel := context.WithCancel(ctx)
	v := &videoStream{cancel: cancel, keyframes: make(chan struct{}, 1)}
	s.mu.Lock()
	if old := s.streams[m.Stream]; old != nil {
		old.cancel()
	}
	s.streams[m.Stream] = v
	s.mu.Unlock()
	s.reply(m.ID, nil, nil)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer src.Close()
		defer enc.Close()
		defer cancel()
		sink := func(frame []byte, key bool, dur time.Duration) error {
			return s.w.video(Video{Stream: m.Stream, Keyframe: key, Duration: dur, Data: frame})
		}
		err := video.Run(vctx, video.Config{FPS: m.FPS, Logger: s.log}, src, enc, sink, v.keyframes)
		s.mu.Lock()
		if s.streams[m.Stream] == v {
			delete(s.streams, m.Stream)
		}
		s.mu.Unlock()
		if err != nil && vctx.Err() == nil {
			_ = s.w.control(&Msg{T: TVideoEnd, Stream: m.Stream, Err: err.Error()})
		}
	}()
}

func (s *server) closeInjectors() {
	for id, inj := range s.injectors {
		inj.Close()
		delete(s.injectors, id)
	}
}
