package sessions

import (
	"context"
	"fmt"
	"time"

	"porthole/broker/recording"
	"porthole/internal/wire"
)

// ReasonExpired is the end reason when a session's time runs out.
const ReasonExpired = "expired"

// WarnBefore is when the final countdown starts: the viewer shows it
// prominently and the agent warns the end user.
const WarnBefore = 2 * time.Minute

// remainingSeconds rounds up, so "2:00" is shown until the full two minutes
// have passed and 0 means the time is up.
func remainingSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// startExpiry sets the session's deadline (if settings give it one), tells
// the agent and the viewers, and starts the watcher that ends the session at
// zero. Called once, when consent is granted.
func (s *Session) startExpiry() {
	if s.expiry <= 0 {
		return
	}
	s.mu.Lock()
	if s.state == StateEnded || s.state == StateDeclined {
		s.mu.Unlock()
		return
	}
	s.expiresAt = s.m.cfg.Clock.Now().Add(s.expiry)
	msg := s.expiryMessageLocked()
	if e, ok := s.expiryEventLocked(); ok {
		s.broadcastLocked(e)
	}
	s.mu.Unlock()
	s.sendExpiry(msg)
	s.tick(s.expiryTick)
}

// tick calls f on every watcher tick until the session ends.
func (s *Session) tick(f func()) {
	s.m.wg.Add(1)
	go func() {
		defer s.m.wg.Done()
		t := s.m.cfg.NewTicker(s.m.cfg.ExpiryTick)
		defer t.Stop()
		for {
			select {
			case <-t.C():
				f()
			case <-s.done:
				return
			}
		}
	}()
}

// ReasonGrantEnded ends a session whose access grant expired or was
// revoked, or whose device left the grant's group.
const ReasonGrantEnded = "the access grant ended"

// grantTick ends the session once the grant it runs under no longer covers
// the device. A failed check is logged and tried again on the next tick.
func (s *Session) grantTick() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok, err := s.m.cfg.Grants.Covers(ctx, s.Grant, s.DeviceID)
	if err != nil {
		s.m.log.Warn("check the session's access grant", "session_id", s.ID, "grant", s.Grant, "err", err)
		return
	}
	if !ok {
		s.End(ReasonGrantEnded)
	}
}

// expiryTick reads the clock: at zero it ends the session; otherwise it
// tells the viewers the time left and, once, warns the agent.
func (s *Session) expiryTick() {
	now := s.m.cfg.Clock.Now()
	s.mu.Lock()
	if s.expiresAt.IsZero() || s.state == StateEnded || s.state == StateDeclined {
		s.mu.Unlock()
		return
	}
	left := s.expiresAt.Sub(now)
	if left <= 0 {
		s.mu.Unlock()
		s.End(ReasonExpired)
		return
	}
	if e, ok := s.expiryEventLocked(); ok {
		s.broadcastLocked(e)
	}
	var warn *wire.SessionExpiry
	if left <= WarnBefore && !s.warned {
		s.warned = true
		warn = s.expiryMessageLocked()
	}
	s.mu.Unlock()
	if warn != nil {
		s.m.log.Info("session expiring soon", "session_id", s.ID, "remaining_seconds", warn.RemainingSeconds)
		s.recordEvent(recording.EventCountdown, map[string]int{"remaining_seconds": warn.RemainingSeconds})
		s.sendExpiry(warn)
	}
}

func (s *Session) expiryEventLocked() (Event, bool) {
	if s.expiresAt.IsZero() || s.state == StateEnded || s.state == StateDeclined {
		return Event{}, false
	}
	t := s.expiresAt
	return Event{Type: "expiry", ExpiresAt: &t, RemainingSeconds: remainingSeconds(t.Sub(s.m.cfg.Clock.Now()))}, true
}

func (s *Session) expiryMessageLocked() *wire.SessionExpiry {
	left := s.expiresAt.Sub(s.m.cfg.Clock.Now())
	return &wire.SessionExpiry{SessionID: s.ID, ExpiresAt: s.expiresAt.UTC(), RemainingSeconds: min(remainingSeconds(left), wire.MaxExpirySeconds),
		Warning: left <= WarnBefore}
}

func (s *Session) sendExpiry(msg *wire.SessionExpiry) {
	if err := s.m.cfg.Agents.Send(s.DeviceID, msg); err != nil {
		s.m.log.Warn("send expiry to agent", "session_id", s.ID, "err", err)
	}
}

// Extend gives a running session another expiry period, when the settings
// in force at its start allowed it. by is the portal user asking; the
// extension is audited before it takes effect (fail closed).
func (s *Session) Extend(ctx context.Context, by, sourceIP string) (time.Time, error) {
	if !s.canExtend {
		return time.Time{}, fmt.Errorf("%w: extending sessions is not allowed by settings", ErrNotAllowedHere)
	}
	s.mu.Lock()
	old := s.expiresAt
	st := s.state
	s.mu.Unlock()
	if st == StateEnded || st == StateDeclined {
		return time.Time{}, ErrEnded
	}
	if old.IsZero() {
		return time.Time{}, fmt.Errorf("%w: the session has no expiry", ErrState)
	}
	next := old.Add(s.expiry)
	if limit := s.m.cfg.Clock.Now().Add(wire.MaxExpirySeconds * time.Second); next.After(limit) {
		next = limit
	}
	if err := s.recordAs(ctx, "user:"+by, sourceIP, "session.extended",
		map[string]any{"old_expires_at": old.UTC(), "new_expires_at": next.UTC()}); err != nil {
		return time.Time{}, err
	}
	s.mu.Lock()
	if s.state == StateEnded || s.state == StateDeclined {
		s.mu.Unlock()
		return time.Time{}, ErrEnded
	}
	s.expiresAt = next
	s.warned = next.Sub(s.m.cfg.Clock.Now()) <= WarnBefore
	msg := s.expiryMessageLocked()
	if e, ok := s.expiryEventLocked(); ok {
		s.broadcastLocked(e)
	}
	s.mu.Unlock()
	s.sendExpiry(msg)
	s.recordEvent(recording.EventCountdown, map[string]any{"remaining_seconds": msg.RemainingSeconds, "extended_by": by})
	_ = s.save(ctx)
	return next, nil
}
