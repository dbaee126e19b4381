// Package elevation is the broker's side of temporary admin codes: it issues
// a code for a device from the device's enrollment secret (the agent checks
// it offline with the same secret), audits every issue without the code
// itself, and keeps the elevation sessions and elevated processes agents
// report through their outboxes, so the portal can show what ran elevated
// in each session. End users' elevation requests go to the one requests
// queue (broker/requests), which hands approvals back here as a Decider:
// an approval is a code issued for the user and delivered to the agent.
package elevation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"porthole/broker/audit"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/elevcode"
	"porthole/internal/wire"
)

// Area is the agent event area this package handles ("elevation.*").
const Area = "elevation"

// IssuedAction is the audit action of an issued code.
const IssuedAction = "elevation.code_issued"

// Errors, matched with errors.Is.
var (
	// ErrTooLong means the requested duration is above the device's
	// elevation.max_minutes setting.
	ErrTooLong = errors.New("elevation: duration above the elevation.max_minutes setting")
	// ErrRevoked means the device is revoked; it gets no codes.
	ErrRevoked = errors.New("elevation: device is revoked")
)

// Store is the persistence this package needs.
type Store interface {
	Device(ctx context.Context, id string) (store.Device, error)
	SaveElevationGrant(ctx context.Context, e store.ElevationSession) error
	EndElevation(ctx context.Context, e store.ElevationSession) error
	AddElevationProcess(ctx context.Context, p store.ElevationProcess) error
	EndElevationProcess(ctx context.Context, deviceID, sessionID string, pid int, startedAt, exitedAt time.Time) error
	ElevationSessions(ctx context.Context, deviceID string, limit int) ([]store.ElevationSession, error)
	ElevationProcesses(ctx context.Context, deviceID, sessionID string, limit int) ([]store.ElevationProcess, error)
	Devices(ctx context.Context) ([]store.Device, error)
}

// Auditor writes audit events (fail closed: no audit, no code).
type Auditor interface {
	Append(ctx context.Context, e audit.Event) (store.AuditRecord, error)
}

// Limits reads a device's effective elevation settings.
type Limits interface {
	Int(ctx context.Context, deviceID, key string) (int, error)
	Effective(ctx context.Context, deviceID, key string) (settings.Value, error)
}

// Keys gives the device key in force, opened (it is sealed at rest).
type Keys interface {
	Secret(ctx context.Context, deviceID string) ([]byte, error)
}

// Config wires a Service.
type Config struct {
	Store    Store
	Audit    Auditor
	Settings Limits
	// Agents delivers policies and approved codes to connected agents.
	Agents Agents
	// Requests queues end users' requests (elevation.requested events).
	Requests Queue
	// Keys opens the device key codes are issued with (broker/devicekey).
	Keys   Keys
	Clock  clock.Clock  // default clock.Real
	Logger *slog.Logger // default discards
}

// Service issues codes and records agents' elevation events.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New returns a Service; Store, Audit, Settings, Agents, Requests and Keys
// are required.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "elevation")}
}

// Issue makes a code for deviceID that lets req.User ("" = any user) be
// administrator for req.Minutes, and audits it as actor from ip. The code
// is returned once and kept nowhere; the audit record names its nonce and
// issue window.
func (s *Service) Issue(ctx context.Context, actor, ip, deviceID string, req wire.ElevationCodeRequest) (wire.ElevationCode, error) {
	if err := req.Validate(); err != nil {
		return wire.ElevationCode{}, err
	}
	dev, err := s.cfg.Store.Device(ctx, deviceID)
	if err != nil {
		return wire.ElevationCode{}, err
	}
	if dev.Revoked {
		return wire.ElevationCode{}, ErrRevoked
	}
	maxMin, err := s.cfg.Settings.Int(ctx, deviceID, settings.ElevationMaxMinutes)
	if err != nil {
		return wire.ElevationCode{}, err
	}
	if req.Minutes > maxMin {
		return wire.ElevationCode{}, fmt.Errorf("%w (%d minutes)", ErrTooLong, maxMin)
	}
	nonce, err := elevcode.RandomNonce()
	if err != nil {
		return wire.ElevationCode{}, err
	}
	secret, err := s.cfg.Keys.Secret(ctx, deviceID)
	if err != nil {
		return wire.ElevationCode{}, err
	}
	now := s.cfg.Clock.Now()
	code, err := elevcode.Issue(secret, elevcode.Claims{DeviceID: deviceID, User: req.User,
		Duration: time.Duration(req.Minutes) * time.Minute, IssuedAt: now, Nonce: nonce})
	if err != nil {
		return wire.ElevationCode{}, err
	}
	// The code's issue step: what the agent's audit of the grant reports.
	window := now.UTC().Truncate(elevcode.WindowUnit)
	out := wire.ElevationCode{Code: code, DeviceID: deviceID, User: req.User, Minutes: req.Minutes, Nonce: int(nonce),
		IssuedAt: window, ValidUntil: window.Add(elevcode.WindowUnit + elevcode.DefaultWindow)}
	if _, err := s.cfg.Audit.Append(ctx, audit.Event{Actor: actor, Action: IssuedAction, Target: deviceID, SourceIP: ip,
		Details: map[string]any{"user": req.User, "any_user": req.User == "", "minutes": req.Minutes,
			"code_nonce": out.Nonce, "code_issued_at": out.IssuedAt, "valid_until": out.ValidUntil}}); err != nil {
		return wire.ElevationCode{}, err
	}
	return out, nil
}

// Hook stores what an elevation event says (agentevents.Hook). It is
// idempotent: a re-delivered event changes nothing. Data that does not
// decode is logged and skipped (the audit log already holds the event);
// only a store failure returns an error, so the agent sends it again.
func (s *Service) Hook(ctx context.Context, deviceID string, ev wire.AgentEvent) error {
	_, what, _ := strings.Cut(ev.Kind, ".")
	switch what {
	case "granted", "expired", "revoked", "recovered", "process_start", "process_exec", "process_exit", "requested":
	default:
		return nil // audited only
	}
	d, err := wire.DecodeElevationEvent(ev.Data)
	if err == nil && what == "requested" {
		return s.queueRequest(ctx, deviceID, ev, d)
	}
	if err == nil && d.SessionID == "" {
		err = errors.New("no session_id")
	}
	if err == nil && strings.HasPrefix(what, "process_") && d.Process == nil {
		err = errors.New("no process")
	}
	if err != nil {
		s.log.Warn("elevation event not stored", "device_id", deviceID, "event_id", ev.ID, "kind", ev.Kind, "err", err)
		return nil
	}
	sess := store.ElevationSession{DeviceID: deviceID, SessionID: d.SessionID, User: d.User, GrantedAt: ev.At, Until: d.Until}
	switch what {
	case "granted":
		sess.SelfApproved, sess.Note = d.SelfApproved, d.Note
		err = s.cfg.Store.SaveElevationGrant(ctx, sess)
	case "expired", "revoked", "recovered":
		sess.EndedAt, sess.EndReason = ev.At, what
		err = s.cfg.Store.EndElevation(ctx, sess)
	case "process_start", "process_exec":
		p := d.Process
		err = s.cfg.Store.AddElevationProcess(ctx, store.ElevationProcess{DeviceID: deviceID, EventID: ev.ID, SessionID: d.SessionID,
			PID: p.PID, PPID: p.PPID, Exe: p.Exe, Args: p.Args, StartedAt: p.StartedAt, SeenAt: ev.At})
	case "process_exit":
		err = s.cfg.Store.EndElevationProcess(ctx, deviceID, d.SessionID, d.Process.PID, d.Process.StartedAt, ev.At)
	}
	if err != nil {
		return fmt.Errorf("elevation %s: %w", what, err)
	}
	return nil
}

// Session is an elevation session with what ran elevated in it, as the API
// shows it.
type Session struct {
	SessionID string    `json:"session_id"`
	User      string    `json:"user"`
	GrantedAt time.Time `json:"granted_at"`
	Until     time.Time `json:"until"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	EndReason string    `json:"end_reason,omitempty"`
	// SelfApproved grants had no code; Note is the user's reason.
	SelfApproved bool      `json:"self_approved,omitempty"`
	Note         string    `json:"note,omitempty"`
	Processes    []Process `json:"processes"`
}

// Process is one program run elevated.
type Process struct {
	EventID   string    `json:"event_id"`
	PID       int       `json:"pid"`
	PPID      int       `json:"ppid"`
	Exe       string    `json:"exe"`
	Args      []string  `json:"args"`
	StartedAt time.Time `json:"started_at,omitzero"`
	SeenAt    time.Time `json:"seen_at"`
	ExitedAt  time.Time `json:"exited_at,omitzero"`
}

// Sessions lists a device's elevation sessions, newest first, each with
// its processes.
func (s *Service) Sessions(ctx context.Context, deviceID string) ([]Session, error) {
	if _, err := s.cfg.Store.Device(ctx, deviceID); err != nil {
		return nil, err
	}
	ss, err := s.cfg.Store.ElevationSessions(ctx, deviceID, 100)
	if err != nil {
		return nil, err
	}
	out := make([]Session, 0, len(ss))
	for _, e := range ss {
		ps, err := s.cfg.Store.ElevationProcesses(ctx, deviceID, e.SessionID, 1000)
		if err != nil {
			return nil, err
		}
		v := Session{SessionID: e.SessionID, User: e.User, GrantedAt: e.GrantedAt, Until: e.Until, EndedAt: e.EndedAt,
			EndReason: e.EndReason, SelfApproved: e.SelfApproved, Note: e.Note, Processes: make([]Process, 0, len(ps))}
		for _, p := range ps {
			v.Processes = append(v.Processes, Process{EventID: p.EventID, PID: p.PID, PPID: p.PPID, Exe: p.Exe, Args: p.Args,
				StartedAt: p.StartedAt, SeenAt: p.SeenAt, ExitedAt: p.ExitedAt})
		}
		out = append(out, v)
	}
	return out, nil
}
