package mfa

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
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
	// Give a limiter whose keys an attacker can make up (client addresses,
	// names of no account) its own MaxEntries, apart from the limiters of
	// real accounts, so that a flood of made-up keys cannot evict a real
	// account's count.
	MaxEntries int
	// NoEviction says the caller bounds the keys itself (one or a few per
	// existing account): no key is ever dropped to make room, and
	// MaxEntries is ignored.
	NoEviction bool
	// Store, when set, keeps every key's failures under Scope, so that a
	// restart does not lift a lockout: Load reads them back. The broker
	// keeps the per-account limiter; per-address state is short-lived
	// (MaxDelay a minute) and stays in memory.
	Store LimitStore
	Scope string
}

// Limiter slows brute force against one kind of key (an account, or a client
// address): after Free consecutive failures each attempt must wait
// BaseDelay, doubling per failure up to MaxDelay.
//
// An attempt is counted before it is checked: Reserve, before the
// expensive or secret-dependent work, refuses a key that must wait and
// otherwise counts the attempt as a failure at once, so N attempts running
// in parallel count as N (checking first and counting after the work let
// every one of N parallel guesses through). The caller then settles the
// Reservation: Succeed on a right password or code (the key's failures are
// forgotten), Refund when the attempt was not a guess after all (the check
// never ran, or it failed for a reason that guesses nothing), and nothing
// on a wrong guess, which stays counted.
//
// Use one Limiter per kind of key: accounts with the defaults (lockout of
// 15 minutes), and client addresses with a gentler curve such as {Free:
// 10, MaxDelay: time.Minute, Forget: time.Hour}, since many users may share
// one NAT. Refund an address on a good login, never Succeed it, or an
// attacker with one valid account could reset it. It is safe for
// concurrent use and never sleeps: callers answer 429 with the wait
// instead of holding a connection.
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
	// round counts how often failures started again from zero (a key
	// forgotten in place), so a Refund from before does not undo a count
	// from after; seq counts reservations, so the latest one's Refund can
	// restore the state before it exactly.
	round, seq int
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
// ErrLocked when that is more than zero. It counts nothing: it is for
// showing a key's state; attempts go through Reserve.
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

// Failures returns key's consecutive failures that still count at now.
func (l *Limiter) Failures(key string, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.byKey[key]
	if !ok || l.staleLocked(el.Value.(*limitEntry), now) {
		return 0
	}
	return el.Value.(*limitEntry).failures
}

// Reservation is one attempt Reserve counted as a failure, to be settled
// once by Succeed or Refund (or left alone: a wrong guess). A nil
// Reservation settles nothing.
type Reservation struct {
	l          *Limiter
	key        string
	entry      *limitEntry
	round, seq int
	// what the entry held before this attempt
	prevLast, prevUntil time.Time
	settled             bool // guarded by l.mu
}

// Reserve counts an attempt on key at now as a failure before the attempt
// is checked, in one step with the lock test. When key must wait, nothing
// is counted and Reserve returns the wait with ErrLocked. Otherwise the
// attempt is counted and wait is zero; err, if not nil, is the Store's (the
// failure counts in memory regardless, and the Reservation is good).
func (l *Limiter) Reserve(ctx context.Context, key string, now time.Time) (r *Reservation, wait time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var e *limitEntry
	if el, ok := l.byKey[key]; ok {
		e = el.Value.(*limitEntry)
		if l.staleLocked(e, now) {
			e.failures, e.lockedUntil = 0, time.Time{}
			e.round++
		}
		if wait := e.lockedUntil.Sub(now); wait > 0 {
			return nil, wait, ErrLocked
		}
		l.order.MoveToBack(el)
	} else {
		l.makeRoomLocked(now)
		e = &limitEntry{key: key}
		l.byKey[key] = l.order.PushBack(e)
	}
	r = &Reservation{l: l, key: key, entry: e, round: e.round, seq: e.seq + 1, prevLast: e.lastFail, prevUntil: e.lockedUntil}
	e.failures++
	e.seq++
	e.lastFail = now
	e.lockedUntil = now.Add(l.delay(e.failures))
	return r, 0, l.saveLocked(ctx, e)
}

// saveLocked writes e to the Store, after deleting the keys dropped from
// memory (under mu, so the Store sees a key's changes in order, and a key
// dropped and failing again is saved anew).
func (l *Limiter) saveLocked(ctx context.Context, e *limitEntry) error {
	if l.cfg.Store == nil {
		return nil
	}
	err := l.forgetGoneLocked(ctx)
	if serr := l.cfg.Store.SaveLoginLimit(ctx, l.cfg.Scope, store.LoginLimit{Key: e.key, Failures: e.failures, LastFail: e.lastFail,
		LockedUntil: e.lockedUntil}); serr != nil {
		err = errors.Join(err, fmt.Errorf("limiter %s: save a failure: %w", l.cfg.Scope, serr))
	}
	return err
}

// Succeed forgets the reservation's key and all its failures (after a
// right password or code). The error is the Store's; the key is forgotten
// in memory regardless.
func (r *Reservation) Succeed(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.l.mu.Lock()
	settled := r.settled
	r.settled = true
	r.l.mu.Unlock()
	if settled {
		return nil
	}
	return r.l.Succeed(ctx, r.key)
}

// Refund takes back the failure Reserve counted, for an attempt that was
// not checked (the work was refused or broke) or that guessed nothing. A
// key forgotten or started afresh since is left alone. The error is the
// Store's.
func (r *Reservation) Refund(ctx context.Context) error {
	if r == nil {
		return nil
	}
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.settled {
		return nil
	}
	r.settled = true
	el, ok := l.byKey[r.key]
	if !ok || el.Value.(*limitEntry) != r.entry || r.entry.round != r.round || r.entry.failures == 0 {
		return nil
	}
	e := r.entry
	e.failures--
	if e.failures == 0 {
		l.removeLocked(el)
		if l.cfg.Store == nil {
			return nil
		}
		return l.forgetGoneLocked(ctx)
	}
	if e.seq == r.seq { // nothing reserved since: back to before
		e.lastFail, e.lockedUntil = r.prevLast, r.prevUntil
	} else if until := e.lastFail.Add(l.delay(e.failures)); until.Before(e.lockedUntil) {
		e.lockedUntil = until
	}
	return l.saveLocked(ctx, e)
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

// Succeed forgets key's failures (after a correct password or code, or an
// admin's unlock). The error is the Store's; the key is forgotten in
// memory regardless.
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

// ForgetPrefix forgets every key that starts with prefix (an admin's
// unlock of one account) and returns how many there were. The error is
// the Store's; the keys are forgotten in memory regardless.
func (l *Limiter) ForgetPrefix(ctx context.Context, prefix string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for el := l.order.Front(); el != nil; {
		next := el.Next()
		if strings.HasPrefix(el.Value.(*limitEntry).key, prefix) {
			l.removeLocked(el)
			n++
		}
		el = next
	}
	if l.cfg.Store == nil {
		return n, nil
	}
	return n, l.forgetGoneLocked(ctx)
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
// full and the Limiter may evict, the key that failed longest ago.
func (l *Limiter) makeRoomLocked(now time.Time) {
	for el := l.order.Front(); el != nil && l.staleLocked(el.Value.(*limitEntry), now); el = l.order.Front() {
		l.removeLocked(el)
	}
	if l.cfg.NoEviction {
		return
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
