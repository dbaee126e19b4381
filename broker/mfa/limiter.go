package mfa

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"porthole/broker/store"
)

// LimitStore keeps a Limiter's entries across restarts (*store.Store in
// the broker).
type LimitStore interface {
	SaveLoginLimit(ctx context.Context, scope string, l store.LoginLimit) error
	DeleteLoginLimit(ctx context.Context, scope, key string) error
	LoginLimits(ctx context.Context, scope string, forgetBefore, now time.Time) ([]store.LoginLimit, error)
}

// LimiterConfig tunes a Limiter. Zero fields take the defaults.
type LimiterConfig struct {
	// Free is how many consecutive failures cost nothing (default 5).
	Free int
	// BaseDelay is the wait after the first failure beyond Free; each
	// further failure doubles it (default 1s).
	BaseDelay time.Duration
	// MaxDelay caps the wait: the temporary lockout (default 15m).
	MaxDelay time.Duration
	// Forget is how long after its last failure a key starts clean again
	// (default 24h; raised to MaxDelay if smaller).
	Forget time.Duration
	// MaxEntries bounds memory (default 10000 keys, about 1 MB). When full,
	// forgotten keys go first, then the key whose last failure is oldest.
	MaxEntries int
	// Store, when set, keeps every key's failures under Scope, so that a
	// restart does not lift a lockout: Load reads them back. The broker
	// keeps the per-account limiter; per-address state is short-lived
	// (MaxDelay a minute) and stays in memory.
	Store LimitStore
	Scope string
}

// Limiter slows brute force against one kind of key (an account, or a client
// address): after Free consecutive failures each attempt must wait
// BaseDelay, doubling per failure up to MaxDelay. Callers Check before
// doing the expensive or secret-dependent work, Fail on a wrong password or
// code, and Succeed on a right one. Use one Limiter per kind of key:
// accounts with the defaults (lockout of 15 minutes), and client addresses
// with a gentler curve such as {Free: 10, MaxDelay: time.Minute, Forget:
// time.Hour}, since many users may share one NAT. Do not Succeed an address
// on a good login, or an attacker with one valid account could reset it.
// It is safe for concurrent use and never sleeps: callers answer 429 with
// the wait instead of holding a connection.
type Limiter struct {
	cfg LimiterConfig

	mu    sync.Mutex
	byKey map[string]*list.Element // of *limitEntry; guarded by mu
	order *list.List               // least recently failed first; guarded by mu
	gone  []string                 // keys dropped from memory, still to delete from the Store; guarded by mu
}

type limitEntry struct {
	key         string
	failures    int
	lastFail    time.Time
	lockedUntil time.Time
}

// NewLimiter returns a Limiter with cfg's zero fields defaulted.
func NewLimiter(cfg LimiterConfig) *Limiter {
	if cfg.Free <= 0 {
		cfg.Free = 5
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = time.Second
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 15 * time.Minute
	}
	if cfg.MaxDelay < cfg.BaseDelay {
		cfg.MaxDelay = cfg.BaseDelay
	}
	if cfg.Forget <= 0 {
		cfg.Forget = 24 * time.Hour
	}
	if cfg.Forget < cfg.MaxDelay {
		cfg.Forget = cfg.MaxDelay
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	return &Limiter{cfg: cfg, byKey: make(map[string]*list.Element), order: list.New()}
}

// Check returns how long key must wait before its next attempt, with
// ErrLocked when that is more than zero.
func (l *Limiter) Check(key string, now time.Time) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.byKey[key]
	if !ok {
		return 0, nil
	}
	e := el.Value.(*limitEntry)
	if l.staleLocked(e, now) {
		l.removeLocked(el)
		return 0, nil
	}
	if wait := e.lockedUntil.Sub(now); wait > 0 {
		return wait, ErrLocked
	}
	return 0, nil
}

// Fail records a failed attempt for key at now and returns the wait it
// now imposes (zero while within Free). The error is the Store's; the
// failure counts in memory regardless.
func (l *Limiter) Fail(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var e *limitEntry
	if el, ok := l.byKey[key]; ok {
		e = el.Value.(*limitEntry)
		if l.staleLocked(e, now) {
			e.failures = 0
		}
		l.order.MoveToBack(el)
	} else {
		l.makeRoomLocked(now)
		e = &limitEntry{key: key}
		l.byKey[key] = l.order.PushBack(e)
	}
	e.failures++
	e.lastFail = now
	d := l.delay(e.failures)
	e.lockedUntil = now.Add(d)
	if l.cfg.Store == nil {
		return d, nil
	}
	// Under mu, so the Store sees a key's failures in order; keys dropped
	// first, so a key dropped and failing again is saved anew.
	err := l.forgetGoneLocked(ctx)
	if serr := l.cfg.Store.SaveLoginLimit(ctx, l.cfg.Scope, store.LoginLimit{Key: key, Failures: e.failures, LastFail: now,
		LockedUntil: e.lockedUntil}); serr != nil {
		err = errors.Join(err, fmt.Errorf("limiter %s: save a failure: %w", l.cfg.Scope, serr))
	}
	return d, err
}

// forgetGoneLocked deletes from the Store the keys dropped from memory, so
// the Store holds no more than MaxEntries keys either.
func (l *Limiter) forgetGoneLocked(ctx context.Context) error {
	var errs []error
	for _, k := range l.gone {
		if err := l.cfg.Store.DeleteLoginLimit(ctx, l.cfg.Scope, k); err != nil {
			errs = append(errs, fmt.Errorf("limiter %s: forget a key: %w", l.cfg.Scope, err))
		}
	}
	l.gone = l.gone[:0]
	return errors.Join(errs...)
}

// Succeed forgets key's failures (after a correct password or code). The
// error is the Store's; the key is forgotten in memory regardless.
func (l *Limiter) Succeed(ctx context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.byKey[key]
	if !ok {
		return nil
	}
	l.removeLocked(el)
	if l.cfg.Store == nil {
		return nil
	}
	return l.forgetGoneLocked(ctx)
}

// Load reads the Store's entries into the Limiter (pruning forgotten ones
// from the Store), so a lockout outlives a restart. Call it once, before
// the Limiter is used.
func (l *Limiter) Load(ctx context.Context, now time.Time) error {
	if l.cfg.Store == nil {
		return nil
	}
	saved, err := l.cfg.Store.LoginLimits(ctx, l.cfg.Scope, now.Add(-l.cfg.Forget), now)
	if err != nil {
		return fmt.Errorf("limiter %s: load: %w", l.cfg.Scope, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range saved { // oldest failure first, as order keeps them
		if _, ok := l.byKey[e.Key]; ok { // already failed since: memory is newer
			continue
		}
		l.makeRoomLocked(now)
		l.byKey[e.Key] = l.order.PushBack(&limitEntry{key: e.Key, failures: e.Failures, lastFail: e.LastFail, lockedUntil: e.LockedUntil})
	}
	return nil
}

// Len returns how many keys the Limiter remembers.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byKey)
}

// delay is the wait after n consecutive failures.
func (l *Limiter) delay(n int) time.Duration {
	over := n - l.cfg.Free
	if over <= 0 {
		return 0
	}
	d := l.cfg.BaseDelay
	for i := 1; i < over; i++ {
		d *= 2
		if d >= l.cfg.MaxDelay {
			return l.cfg.MaxDelay
		}
	}
	return min(d, l.cfg.MaxDelay)
}

func (l *Limiter) staleLocked(e *limitEntry, now time.Time) bool {
	return !now.Before(e.lockedUntil) && now.Sub(e.lastFail) >= l.cfg.Forget
}

func (l *Limiter) removeLocked(el *list.Element) {
	key := el.Value.(*limitEntry).key
	delete(l.byKey, key)
	l.order.Remove(el)
	if l.cfg.Store != nil {
		l.gone = append(l.gone, key)
	}
}

// makeRoomLocked drops forgotten keys from the old end, then, if still
// full, the key that failed longest ago.
func (l *Limiter) makeRoomLocked(now time.Time) {
	for el := l.order.Front(); el != nil && l.staleLocked(el.Value.(*limitEntry), now); el = l.order.Front() {
		l.removeLocked(el)
	}
	for len(l.byKey) >= l.cfg.MaxEntries {
		l.removeLocked(l.order.Front())
	}
}

// IPKey turns a client address into a Limiter key. IPv6 addresses are
// grouped by /64, since one host usually owns a whole /64 and could
// otherwise rotate addresses past the limit; IPv4-mapped addresses count
// as IPv4.
func IPKey(addr netip.Addr) string {
	addr = addr.Unmap()
	if addr.Is6() {
		p, err := addr.Prefix(64)
		if err == nil {
			return "ip:" + p.String()
		}
	}
	return "ip:" + addr.WithZone("").String()
}
