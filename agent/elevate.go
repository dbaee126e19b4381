package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"porthole/agent/elevation"
	"porthole/agent/elevsock"
	"porthole/agent/request"
	"porthole/internal/durable"
	"porthole/internal/wire"
)

// PolicyFile keeps the broker's last elevation policy in the state dir, so
// self-approval works while the broker is unreachable.
const PolicyFile = "elevation-policy.json"

// setupElevation builds the elevation manager over the enrollment's device
// secret, with its events going to the outbox, and the local socket.
func (a *Agent) setupElevation(ec ElevationConfig) error {
	mc := ec.Manager
	mc.StateDir, mc.DeviceID, mc.Secret = a.cfg.StateDir, a.id.DeviceID, a.id.DeviceSecret
	mc.Logger = a.cfg.Logger
	mc.OnEvent = a.elevationEvent
	m, err := elevation.New(mc)
	if err != nil {
		return fmt.Errorf("agent: elevation: %w", err)
	}
	now := time.Now
	if mc.Clock != nil {
		now = mc.Clock.Now
	}
	desk := &elevationDesk{a: a, m: m, path: filepath.Join(a.cfg.StateDir, PolicyFile)}
	if err := desk.load(); err != nil {
		return err
	}
	a.elev = m
	a.desk = desk
	a.elevSrv = elevsock.NewServer(ec.Socket, desk, now, a.cfg.Logger)
	return nil
}

// Elevation is the elevation manager, nil when elevation is off.
func (a *Agent) Elevation() *elevation.Manager { return a.elev }

// elevationEvent queues an elevation event for the broker (durably: the
// outbox fsyncs before Add returns).
func (a *Agent) elevationEvent(ev elevation.Event) {
	d := wire.ElevationEvent{SessionID: ev.SessionID, User: ev.User, Until: ev.Until, Reason: ev.Reason, Error: ev.Err,
		SelfApproved: ev.SelfApproved, Note: ev.Note}
	if !ev.CodeIssuedAt.IsZero() {
		n := ev.CodeNonce
		d.CodeIssuedAt, d.CodeNonce = ev.CodeIssuedAt, &n
	}
	if p := ev.Process; p != nil {
		d.Process = &wire.ElevationProcessed{PID: p.PID, PPID: p.PPID, UID: p.UID, EUID: p.EUID, LoginUID: p.LoginUID,
			Exe: p.Exe, Args: p.Args, StartedAt: p.StartedAt}
	}
	if err := a.queueElevation(string(ev.Kind), d); err != nil {
		a.cfg.Logger.Error("elevation event not queued for the broker", "kind", string(ev.Kind), "session_id", ev.SessionID, "err", err)
	}
}

func (a *Agent) queueElevation(kind string, d wire.ElevationEvent) error {
	data, err := wire.MarshalElevationEvent(d)
	if err != nil {
		return err
	}
	_, err = a.events.Add(kind, data)
	return err
}

// onElevationPolicy saves and applies the broker's self-approval policy.
func (a *Agent) onElevationPolicy(_ context.Context, m *wire.ElevationPolicy) {
	if a.desk == nil {
		return
	}
	if err := a.desk.setPolicy(*m); err != nil {
		a.cfg.Logger.Error("elevation policy not saved", "err", err)
	}
}

// onElevationRequestCode elevates the user of an approved request.
func (a *Agent) onElevationRequestCode(ctx context.Context, m *wire.ElevationRequestCode) {
	if a.elev == nil {
		a.cfg.Logger.Warn("approved elevation request ignored: elevation is off", "request_id", m.RequestID)
		return
	}
	// The code is bound to the user by the broker's MAC; the manager
	// verifies it like a typed one (single use, window, rate limit).
	a.req.Outcome(m.RequestID, func() {
		s, err := a.elev.Elevate(ctx, m.User, m.Code)
		if err != nil {
			a.cfg.Logger.Warn("approved elevation request not granted", "request_id", m.RequestID, "user", m.User, "err", err)
			a.req.Notice(fmt.Sprintf("Your request for administrator rights (%s) was approved, but the agent could not grant it: %s", m.User, elevsock.Message(err)))
			return
		}
		a.cfg.Logger.Info("approved elevation request granted", "request_id", m.RequestID, "user", m.User, "until", s.Until)
		a.req.Notice(elevationOutcome(m.User, m.By, wire.RequestApproved, "", s.Until, time.Time{}))
	})
}

// onElevationRequestResult tells the end user a denied or expired request.
func (a *Agent) onElevationRequestResult(_ context.Context, m *wire.ElevationRequestResult) {
	a.cfg.Logger.Info("elevation request decided", "request_id", m.RequestID, "status", m.Status, "by", m.By)
	a.req.Outcome(m.RequestID, func() {
		a.req.Notice(elevationOutcome("", m.By, m.Status, m.Message, time.Time{}, m.RequestedAt))
	})
}

// elevationOutcome is what the end user reads about their elevation
// request; a denial or expiry names when it was asked (requested, when
// known), since it may be told long after.
func elevationOutcome(user, by, status, message string, until, requested time.Time) string {
	subject := "Your request for administrator rights"
	if !requested.IsZero() {
		subject += " of " + request.When(requested, time.Now())
	}
	switch status {
	case wire.RequestApproved:
		t := subject + " was approved"
		if by != "" {
			t += " by " + by
		}
		return fmt.Sprintf("%s: %s is an administrator until %s.", t, user, until.Local().Format("15:04"))
	case wire.RequestDenied:
		t := subject + " was denied"
		if by != "" {
			t += " by " + by
		}
		if message != "" {
			t += ": " + message
		}
		return t + "."
	}
	return subject + " expired: " + message
}

// elevationDesk serves the local socket: codes go to the manager; requests
// are self-approved under the broker's policy or forwarded to the broker.
type elevationDesk struct {
	a    *Agent
	m    *elevation.Manager
	path string

	mu     sync.Mutex
	policy wire.ElevationPolicy // guarded by mu
}

var _ elevsock.Elevator = (*elevationDesk)(nil)

func (d *elevationDesk) Elevate(ctx context.Context, u, code string) (elevation.Session, error) {
	return d.m.Elevate(ctx, u, code)
}

func (d *elevationDesk) Sessions() ([]elevation.Session, error) { return d.m.Sessions() }

// Request self-approves members of the policy's groups for its MaxMinutes;
// anyone else's request goes to the broker through the outbox (so it is
// sent when the broker is reachable).
func (d *elevationDesk) Request(ctx context.Context, u, reason string) (elevation.Session, bool, string, error) {
	d.mu.Lock()
	p := d.policy
	d.mu.Unlock()
	if len(p.SelfApproveGroups) > 0 {
		groups, err := userGroups(u)
		if err != nil {
			return elevation.Session{}, false, "", fmt.Errorf("%w: %w", elevation.ErrBadUser, err)
		}
		for _, g := range p.SelfApproveGroups {
			if slices.Contains(groups, g) {
				s, err := d.m.SelfApprove(ctx, u, reason, time.Duration(p.MaxMinutes)*time.Minute)
				return s, err == nil, "", err
			}
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if err := d.a.queueElevation("elevation.requested", wire.ElevationEvent{RequestID: id, User: u, Note: reason}); err != nil {
		return elevation.Session{}, false, "", err
	}
	return elevation.Session{}, false, id, nil
}

// load reads the saved policy; none saved means no self-approval.
func (d *elevationDesk) load() error {
	b, err := os.ReadFile(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		var p wire.ElevationPolicy
		if err = json.Unmarshal(b, &p); err == nil {
			if err = p.Validate(); err == nil {
				d.policy = p
				return nil
			}
		}
	}
	return fmt.Errorf("agent: elevation policy %s: %w", d.path, err)
}

// setPolicy saves p and applies it.
func (d *elevationDesk) setPolicy(p wire.ElevationPolicy) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := durable.WriteFile(d.path, b, 0o600); err != nil {
		return err
	}
	d.policy = p
	return nil
}

// userGroups lists the names of the groups u belongs to.
func userGroups(name string) ([]string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if g, err := user.LookupGroupId(id); err == nil {
			out = append(out, g.Name)
		}
	}
	return out, nil
}
