package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"porthole/broker/recording"
	"porthole/broker/relay"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// ErrRecording ends a session that must be recorded (setting
// recording.required) when its recording cannot start or stops.
var ErrRecording = errors.New("the session recording failed and recording is required")

// recorders starts recordings; *recording.Store is one.
type recorders interface {
	New(id string, opts recording.Options) (*recording.Recorder, error)
}

var _ recorders = (*recording.Store)(nil)

// Recording audit actions.
const (
	ActionRecordingStarted  = "recording.started"
	ActionRecordingFailed   = "recording.failed"
	ActionRecordingFinished = "recording.finished" // details: files (name, size, sha256…), stats, error
)

// startRecording starts recording the session when the settings say so and
// taps the relay into it; it runs when consent is granted, before any media
// flows. It returns ErrRecording only when recording is required and could
// not start; an optional recording that fails is logged and audited.
func (s *Session) startRecording(ctx context.Context, rel *relay.Session, consentAt time.Time, answer string) error {
	rs := s.m.cfg.Recordings
	if rs == nil {
		return nil
	}
	on, err := s.m.cfg.Settings.Bool(ctx, s.DeviceID, settings.RecordingEnabled)
	if err != nil {
		return err
	}
	if !on {
		return nil
	}
	required, err := s.m.cfg.Settings.Bool(ctx, s.DeviceID, settings.RecordingRequired)
	if err != nil {
		return err
	}
	s.recRequired.Store(required)
	keys, err := s.m.cfg.Settings.Effective(ctx, s.DeviceID, settings.RecordingKeystrokes)
	if err != nil {
		return err
	}
	s.recKeysFull.Store(keys.Value == settings.KeystrokesFull)
	rec, err := rs.New(s.ID, recording.Options{Clock: s.m.cfg.Clock, Logger: s.m.cfg.Logger.With("session_id", s.ID),
		OnError: s.onRecordingError, RequestKeyframe: rel.RequestKeyframe, MaxBytes: s.m.cfg.RecordingMaxBytes})
	if err != nil {
		s.m.log.Error("recording_start_failed", "session_id", s.ID, "required", required, "err", err)
		_ = s.record(ctx, ActionRecordingFailed, map[string]any{"error": err.Error(), "required": required})
		if required {
			return ErrRecording
		}
		return nil
	}
	if err := s.record(ctx, ActionRecordingStarted, map[string]any{"recording_id": rec.ID(), "required": required,
		"keystrokes": keys.Value}); err != nil {
		// Fail closed: a recording the audit log does not know of is not kept
		// running; the session itself follows the required setting.
		_, _ = rec.Close()
		if required {
			return ErrRecording
		}
		return nil
	}
	_ = s.m.cfg.Store.SaveRecording(ctx, store.Recording{ID: rec.ID(), DeviceID: s.DeviceID, Hostname: s.Hostname,
		Requester: s.Requester, State: store.RecordingActive, StartedAt: consentAt})
	s.rec.Store(rec)
	_ = rec.Event(recording.EventConsent, consentAt, map[string]string{"answer": answer, "requester": s.Requester})
	rel.SetTap(rec.WriteRTP)
	// The session may have ended meanwhile, after its finish looked for a
	// recording; whoever takes rec first closes it.
	s.mu.Lock()
	st, reason := s.state, s.endReason
	s.mu.Unlock()
	if st == StateEnded || st == StateDeclined {
		s.finishRecording(ctx, st, reason)
	}
	return nil
}

// onRecordingError runs on the recorder's goroutine when it stops (disk
// full, write error): never silent, and fatal to the session when recording
// is required.
func (s *Session) onRecordingError(err error) {
	required := s.recRequired.Load()
	s.m.log.Error("recording_failed", "session_id", s.ID, "required", required, "disk_full", errors.Is(err, recording.ErrDiskFull), "err", err)
	s.m.wg.Add(1)
	go func() {
		defer s.m.wg.Done()
		_ = s.record(context.Background(), ActionRecordingFailed, map[string]any{"error": err.Error(), "required": required,
			"disk_full": errors.Is(err, recording.ErrDiskFull)})
		if required {
			s.End(ErrRecording.Error())
		}
	}()
}

// recordEvent adds a session event to the recording, if there is one.
func (s *Session) recordEvent(kind string, data any) {
	if rec := s.rec.Load(); rec != nil {
		_ = rec.Event(kind, s.m.cfg.Clock.Now(), data)
	}
}

// recordInput adds forwarded input to the recording. Pasted text is not
// kept, only its length: it is often a password. Keys are kept as
// presence unless the device's recording.keystrokes is full
// (keystrokes.go).
func (s *Session) recordInput(in wire.Input, msg []byte) {
	if s.rec.Load() == nil {
		return
	}
	switch {
	case in.Kind == wire.InputPaste:
		s.recordEvent(recording.EventInput, map[string]any{"t": string(wire.InputPaste), "len": len([]rune(in.Text))})
	case (in.Kind == wire.InputKeyDown || in.Kind == wire.InputKeyUp) && !s.recKeysFull.Load():
		s.recordEvent(recording.EventInput, keyPresence(in))
	default:
		s.recordEvent(recording.EventInput, json.RawMessage(msg))
	}
}

// finishRecording closes the recording at the session's end and audits the
// digest and size of every file it kept.
func (s *Session) finishRecording(ctx context.Context, state, reason string) {
	rec := s.rec.Swap(nil)
	if rec == nil {
		return
	}
	_ = rec.Event(recording.EventEnd, s.m.cfg.Clock.Now(), map[string]string{"state": state, "reason": reason})
	res, cerr := rec.Close()
	row := store.Recording{ID: rec.ID(), DeviceID: s.DeviceID, Hostname: s.Hostname, Requester: s.Requester,
		State: store.RecordingFinished, EndedAt: s.m.cfg.Clock.Now(), Files: len(res.Files)}
	details := map[string]any{"recording_id": rec.ID(), "files": res.All(), "stats": res.Stats}
	if cerr != nil {
		row.State, row.Error = store.RecordingFailed, cerr.Error()
		details["error"] = cerr.Error()
	}
	for _, f := range res.All() {
		row.Size += f.Size
		row.Duration += f.Duration
	}
	details["size"], details["duration_ms"] = row.Size, row.Duration.Milliseconds()
	_ = s.record(ctx, ActionRecordingFinished, details)
	if err := s.m.cfg.Store.SaveRecording(ctx, row); err != nil {
		s.m.log.Error("save recording", "session_id", s.ID, "err", err)
	}
}
