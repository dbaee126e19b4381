// Package breakglass is the broker side of break glass: a portal user asks
// for a temporary local administrator on a device, the broker checks the
// expiry against the settings, audits the request, asks the agent and
// hands the generated credentials back once. It never stores the password.
//
// A grant's status follows the account: pending (asked, no answer yet),
// active (the account exists), used (its first login was seen), expired
// (removed at its expiry or unused past its use-within window), removed
// (revoked, or cleaned up after an interrupted creation), failed (the agent
// could not create it). The agent's answers and its outbox events
// ("breakglass.*", registered on agentevents with Hook) move it along; a
// status never moves back from expired or removed.
package breakglass

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"porthole/broker/audit"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

// Grant statuses.
const (
	StatusPending = "pending"
	StatusActive  = "active"
	StatusUsed    = "used"
	StatusExpired = "expired"
	StatusRemoved = "removed"
	StatusFailed  = "failed"
)

// Audit actions written by the broker (the agent's own steps arrive as
// "breakglass.created", "breakglass.used", "breakglass.revoked"… from the
// device).
const (
	ActionRequested       = "breakglass.requested"
	ActionRequestFailed   = "breakglass.request_failed"
	ActionRevokeRequested = "breakglass.revoke_requested"
)

// Errors, mapped to HTTP statuses by the API.
var (
	// ErrBadExpiry: no expiry, an expiry in the past, or beyond the
	// breakglass.max_minutes setting.
	ErrBadExpiry = errors.New("break glass: invalid expiry")
	// ErrOffline: the device is not connected, so nothing can be created
	// or revoked now.
	ErrOffline = errors.New("break glass: device is offline")
	// ErrAgent: the agent answered that it could not do it.
	ErrAgent = errors.New("break glass: the agent refused")
	// ErrNoAnswer: the agent did not answer in time.
	ErrNoAnswer = errors.New("break glass: no answer from the agent")
	// ErrFinished: the account is already gone (or was never made).
	ErrFinished = errors.New("break glass: account already removed")
)

// DefaultReplyTimeout bounds the wait for the agent's answer.
const DefaultReplyTimeout = 60 * time.Second

// Consumer-side interfaces.
type (
	grantStore interface {
		Device(ctx context.Context, id string) (store.Device, error)
		CreateBreakGlassGrant(ctx context.Context, g store.BreakGlassGrant) error
		BreakGlassGrant(ctx context.Context, id string) (store.BreakGlassGrant, error)
		BreakGlassGrants(ctx context.Context, deviceID string) ([]store.BreakGlassGrant, error)
		UpdateBreakGlassGrant(ctx context.Context, id, deviceID, status, username, detail string, useBy, now time.Time, final ...string) (bool, error)
	}
	auditor interface {
		Append(ctx context.Context, e audit.Event) (store.AuditRecord, error)
	}
	agentLink interface {
		Online(id string) bool
		Send(id string, m wire.Message) error
	}
	settingsReader interface {
		Int(ctx context.Context, deviceID, key string) (int, error)
	}
)

// Config wires a Service.
type Config struct {
	Store    grantStore
	Audit    auditor
	Agents   agentLink
	Settings settingsReader
	Clock    clock.Clock
	Logger   *slog.Logger
	// ReplyTimeout: default DefaultReplyTimeout.
	ReplyTimeout time.Duration
	// NewID makes grant ids.
	NewID func() string
}

// Service handles break-glass requests. Safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	waiting map[string]waiter // by grant id; guarded by mu
}

// waiter is a request waiting for its agent's answer.
type waiter struct {
	deviceID string
	ch       chan wire.Message // cap 1
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReplyTimeout <= 0 {
		cfg.ReplyTimeout = DefaultReplyTimeout
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "breakglass"), waiting: map[string]waiter{}}
}

// Request asks for an account.
type Request struct {
	DeviceID  string
	Requester string // portal username
	SourceIP  string
	// ExpiresAt, or else now + For.
	ExpiresAt time.Time
	For       time.Duration
	// UseWithin, if not zero, shortens the breakglass.use_within_minutes
	// window; it may not lengthen it.
	UseWithin time.Duration
}

// Created is the answer to the requester: the grant and, this once, the
// credentials.
type Created struct {
	store.BreakGlassGrant
	Password string `json:"password"`
}

// Create audits the request, asks the agent and returns the credentials.
func (s *Service) Create(ctx context.Context, req Request) (Created, error) {
	if _, err := s.cfg.Store.Device(ctx, req.DeviceID); err != nil {
		return Created{}, err
	}
	now := s.cfg.Clock.Now()
	maxMin, err := s.cfg.Settings.Int(ctx, req.DeviceID, settings.BreakGlassMaxMinutes)
	if err != nil {
		return Created{}, err
	}
	useWithin, err := s.cfg.Settings.Int(ctx, req.DeviceID, settings.BreakGlassUseWithinMinutes)
	if err != nil {
		return Created{}, err
	}
	expires := req.ExpiresAt
	if expires.IsZero() {
		expires = now.Add(req.For)
	}
	expires = expires.UTC().Truncate(time.Second)
	switch life := expires.Sub(now); {
	case req.ExpiresAt.IsZero() && req.For <= 0:
		return Created{}, fmt.Errorf("%w: give a duration or an expiry time", ErrBadExpiry)
	case life < time.Minute:
		return Created{}, fmt.Errorf("%w: the expiry must be at least a minute away", ErrBadExpiry)
	case life > time.Duration(maxMin)*time.Minute+time.Second:
		return Created{}, fmt.Errorf("%w: %s is longer than the maximum of %d minutes (setting %s)",
			ErrBadExpiry, life.Round(time.Minute), maxMin, settings.BreakGlassMaxMinutes)
	}
	useWithinSec := useWithin * 60
	if req.UseWithin != 0 {
		if req.UseWithin < time.Minute || (useWithin > 0 && req.UseWithin > time.Duration(useWithin)*time.Minute) {
			return Created{}, fmt.Errorf("%w: the use-within window must be 1 to %d minutes (setting %s)",
				ErrBadExpiry, useWithin, settings.BreakGlassUseWithinMinutes)
		}
		useWithinSec = int(req.UseWithin / time.Second)
	}
	if !s.cfg.Agents.Online(req.DeviceID) {
		return Created{}, ErrOffline
	}
	g := store.BreakGlassGrant{ID: s.cfg.NewID(), DeviceID: req.DeviceID, Requester: req.Requester, Status: StatusPending,
		CreatedAt: now, ExpiresAt: expires, UpdatedAt: now}
	// Fail closed: no audit record, no account.
	if _, err := s.cfg.Audit.Append(ctx, audit.Event{Actor: "user:" + req.Requester, Action: ActionRequested, Target: req.DeviceID,
		SourceIP: req.SourceIP, Details: map[string]any{"grant_id": g.ID, "expires_at": expires.Format(time.RFC3339),
			"use_within_minutes": useWithinSec / 60}}); err != nil {
		return Created{}, err
	}
	if err := s.cfg.Store.CreateBreakGlassGrant(ctx, g); err != nil {
		return Created{}, err
	}
	reply, err := s.ask(ctx, g, &wire.BreakGlassCreate{GrantID: g.ID, Requester: req.Requester, ExpiresAt: expires,
		UseWithinSeconds: useWithinSec})
	switch m := reply.(type) {
	case *wire.BreakGlassCreated:
		if _, err := s.cfg.Store.UpdateBreakGlassGrant(ctx, g.ID, g.DeviceID, StatusActive, m.Username, "", m.UseBy, s.cfg.Clock.Now(),
			StatusUsed, StatusExpired, StatusRemoved); err != nil {
			return Created{}, err
		}
		g, err := s.cfg.Store.BreakGlassGrant(ctx, g.ID)
		if err != nil {
			return Created{}, err
		}
		return Created{BreakGlassGrant: g, Password: m.Password}, nil
	case *wire.BreakGlassFailed:
		err = fmt.Errorf("%w: %s", ErrAgent, m.Error)
	default:
		if err == nil {
			err = fmt.Errorf("%w: unexpected answer %s", ErrAgent, m.Type())
		}
	}
	s.failed(ctx, g, req, err)
	return Created{}, err
}

// failed records a creation that did not happen.
func (s *Service) failed(ctx context.Context, g store.BreakGlassGrant, req Request, cause error) {
	ctx = context.WithoutCancel(ctx)
	if _, err := s.cfg.Store.UpdateBreakGlassGrant(ctx, g.ID, g.DeviceID, StatusFailed, "", cause.Error(), time.Time{}, s.cfg.Clock.Now(),
		StatusActive, StatusUsed, StatusExpired, StatusRemoved); err != nil {
		s.log.Error("record failed break glass", "grant_id", g.ID, "err", err)
	}
	if _, err := s.cfg.Audit.Append(ctx, audit.Event{Actor: "user:" + req.Requester, Action: ActionRequestFailed, Target: g.DeviceID,
		SourceIP: req.SourceIP, Details: map[string]any{"grant_id": g.ID, "error": cause.Error()}}); err != nil {
		s.log.Error("audit failed break glass", "grant_id", g.ID, "err", err)
	}
}

// ask sends m for grant g and waits for the agent's answer.
func (s *Service) ask(ctx context.Context, g store.BreakGlassGrant, m wire.Message) (wire.Message, error) {
	w := waiter{deviceID: g.DeviceID, ch: make(chan wire.Message, 1)}
	s.mu.Lock()
	s.waiting[g.ID] = w
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiting, g.ID)
		s.mu.Unlock()
	}()
	if err := s.cfg.Agents.Send(g.DeviceID, m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOffline, err)
	}
	t := time.NewTimer(s.cfg.ReplyTimeout)
	defer t.Stop()
	select {
	case r := <-w.ch:
		return r, nil
	case <-t.C:
		return nil, ErrNoAnswer
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Revoke asks the agent to log the account off and delete it now.
func (s *Service) Revoke(ctx context.Context, grantID, requester, sourceIP string) (store.BreakGlassGrant, error) {
	g, err := s.cfg.Store.BreakGlassGrant(ctx, grantID)
	if err != nil {
		return g, err
	}
	switch {
	case g.Status == StatusExpired || g.Status == StatusRemoved || g.Status == StatusFailed || g.Username == "":
		return g, ErrFinished
	case !s.cfg.Agents.Online(g.DeviceID):
		return g, ErrOffline
	}
	if _, err := s.cfg.Audit.Append(ctx, audit.Event{Actor: "user:" + requester, Action: ActionRevokeRequested, Target: g.DeviceID,
		SourceIP: sourceIP, Details: map[string]any{"grant_id": g.ID, "username": g.Username}}); err != nil {
		return g, err
	}
	reply, err := s.ask(ctx, g, &wire.BreakGlassRevoke{GrantID: g.ID, Username: g.Username})
	if err != nil {
		return g, err
	}
	if f, ok := reply.(*wire.BreakGlassFailed); ok {
		return g, fmt.Errorf("%w: %s", ErrAgent, f.Error)
	}
	if _, err := s.cfg.Store.UpdateBreakGlassGrant(ctx, g.ID, g.DeviceID, StatusRemoved, "", "revoked by "+requester, time.Time{},
		s.cfg.Clock.Now(), StatusExpired, StatusRemoved); err != nil {
		return g, err
	}
	return s.cfg.Store.BreakGlassGrant(ctx, g.ID)
}

// List returns a device's grants, newest first.
func (s *Service) List(ctx context.Context, deviceID string) ([]store.BreakGlassGrant, error) {
	if _, err := s.cfg.Store.Device(ctx, deviceID); err != nil {
		return nil, err
	}
	gs, err := s.cfg.Store.BreakGlassGrants(ctx, deviceID)
	if gs == nil {
		gs = []store.BreakGlassGrant{}
	}
	return gs, err
}

// HandleAgent takes the agent's answers; it reports whether m was one. An
// answer for a grant nobody waits for (timed out), or from another device
// than the grant's, is dropped.
func (s *Service) HandleAgent(deviceID string, m wire.Message) bool {
	var grantID string
	switch m := m.(type) {
	case *wire.BreakGlassCreated:
		grantID = m.GrantID
	case *wire.BreakGlassRevoked:
		grantID = m.GrantID
	case *wire.BreakGlassFailed:
		grantID = m.GrantID
	default:
		return false
	}
	s.mu.Lock()
	w, ok := s.waiting[grantID]
	s.mu.Unlock()
	if !ok || w.deviceID != deviceID {
		s.log.Warn("unexpected break-glass answer dropped", "device_id", deviceID, "grant_id", grantID, "type", m.Type())
		// An account made after its requester gave up waiting: nobody has
		// its password, so it goes now rather than at its expiry.
		if c, late := m.(*wire.BreakGlassCreated); late {
			if err := s.cfg.Agents.Send(deviceID, &wire.BreakGlassRevoke{GrantID: c.GrantID, Username: c.Username}); err != nil {
				s.log.Warn("revoke late break-glass account", "device_id", deviceID, "grant_id", grantID, "err", err)
			}
		}
		return true
	}
	select {
	case w.ch <- m:
	default:
	}
	return true
}

// transitions maps an agent event kind to the status it sets and the
// statuses it must not overwrite; kinds not listed change nothing.
var transitions = map[string]struct {
	to    string
	final []string
}{
	"breakglass.created":       {StatusActive, []string{StatusUsed, StatusExpired, StatusRemoved}},
	"breakglass.used":          {StatusUsed, []string{StatusExpired, StatusRemoved}},
	"breakglass.expired":       {StatusExpired, []string{StatusExpired, StatusRemoved}},
	"breakglass.unused":        {StatusExpired, []string{StatusExpired, StatusRemoved}},
	"breakglass.revoked":       {StatusRemoved, []string{StatusExpired, StatusRemoved}},
	"breakglass.recovered":     {StatusRemoved, []string{StatusExpired, StatusRemoved}},
	"breakglass.create_failed": {StatusFailed, []string{StatusActive, StatusUsed, StatusExpired, StatusRemoved}},
}

// Hook is the agentevents hook of the "breakglass" area: it moves the
// grant named by the event's grant_id, on the reporting device only.
// Idempotent: a repeated event sets the same status again or nothing.
func (s *Service) Hook(ctx context.Context, deviceID string, ev wire.AgentEvent) error {
	tr, ok := transitions[ev.Kind]
	if !ok {
		return nil
	}
	var d struct {
		GrantID  string `json:"grant_id"`
		Username string `json:"username"`
		Error    string `json:"error"`
	}
	if err := json.Unmarshal(ev.Data, &d); err != nil || d.GrantID == "" {
		s.log.Warn("break-glass event without a grant", "device_id", deviceID, "kind", ev.Kind)
		return nil
	}
	detail := strings.TrimPrefix(ev.Kind, "breakglass.")
	if d.Error != "" {
		detail += ": " + d.Error
	}
	_, err := s.cfg.Store.UpdateBreakGlassGrant(ctx, d.GrantID, deviceID, tr.to, d.Username, detail, time.Time{}, s.cfg.Clock.Now(), tr.final...)
	return err
}
