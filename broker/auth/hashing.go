package auth

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// ErrBusy refuses a password check or hash because too many are running
// and waiting already; the API answers 503 with Retry-After. Nothing about
// the password is learnt, and the caller refunds the attempt it reserved.
var ErrBusy = errors.New("too many logins at once, try again shortly")

// BusyRetry is the Retry-After the API gives with ErrBusy.
const BusyRetry = 2 * time.Second

// HashLimits bound the memory and CPU password hashing may take. Each
// argon2id hash holds argonMemory (64 MiB) while it runs, so without a
// bound 50 parallel logins for made-up users took 3.3 GB. Zero fields take
// the defaults.
type HashLimits struct {
	// Concurrent is how many hashes run at once (default 2 × GOMAXPROCS):
	// the memory they hold is Concurrent × 64 MiB.
	Concurrent int
	// Queue is how many more may wait for a slot (default 4 × Concurrent);
	// beyond that a caller gets ErrBusy at once.
	Queue int
	// Wait bounds how long a caller waits for a slot (default 3s) before
	// ErrBusy. It is real time, not the injected clock: it bounds
	// contention for real CPUs.
	Wait time.Duration
}

func (h HashLimits) withDefaults() HashLimits {
	if h.Concurrent <= 0 {
		h.Concurrent = 2 * runtime.GOMAXPROCS(0)
	}
	if h.Queue <= 0 {
		h.Queue = 4 * h.Concurrent
	}
	if h.Wait <= 0 {
		h.Wait = 3 * time.Second
	}
	return h
}

// hasher runs password hashes under HashLimits: a semaphore of Concurrent
// slots, entered through an admission of Concurrent+Queue tickets so that
// the number of callers waiting is bounded too.
type hasher struct {
	wait   time.Duration
	admit  chan struct{} // tickets: running or waiting
	slots  chan struct{} // running
	hashes atomic.Int64  // hashes run (a test seam: attempts that reached argon2)
	// check and hash are CheckPassword and HashPassword; unit tests swap
	// in slow fakes to hold slots.
	check func(hash, pw string) (bool, error)
	hash  func(pw string) (string, error)
}

func newHasher(l HashLimits) *hasher {
	l = l.withDefaults()
	return &hasher{wait: l.Wait, admit: make(chan struct{}, l.Concurrent+l.Queue), slots: make(chan struct{}, l.Concurrent),
		check: CheckPassword, hash: HashPassword}
}

// run calls f in a slot: ErrBusy when the queue is full or no slot frees
// within the wait, ctx's error when the caller gives up first.
func (h *hasher) run(ctx context.Context, f func()) error {
	select {
	case h.admit <- struct{}{}:
	default:
		return ErrBusy
	}
	defer func() { <-h.admit }()
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-h.slots }()
	h.hashes.Add(1)
	f()
	// The hash's 64 MiB is garbage now. Left to the GC's pacing (the next
	// cycle when the heap doubles), dead hash buffers pile up beside the
	// live ones: 4 slots took a broker past 500 MB in a spray. Collecting
	// before the slot is freed keeps the peak near Concurrent × 64 MiB; a
	// cycle over pointer-free blocks costs about a millisecond.
	runtime.GC()
	return nil
}

func (h *hasher) checkPassword(ctx context.Context, hash, pw string) (ok bool, err error) {
	if rerr := h.run(ctx, func() { ok, err = h.check(hash, pw) }); rerr != nil {
		return false, rerr
	}
	return ok, err
}

func (h *hasher) hashPassword(ctx context.Context, pw string) (s string, err error) {
	if rerr := h.run(ctx, func() { s, err = h.hash(pw) }); rerr != nil {
		return "", rerr
	}
	return s, err
}

// HashPassword hashes pw for storing (a new user, a new password) under
// the same bound as logins. Offline tools without an Authenticator use the
// package's HashPassword.
func (a *Authenticator) HashPassword(ctx context.Context, pw string) (string, error) {
	return a.hash.hashPassword(ctx, pw)
}

// Hashes returns how many password hashes have run (checks and new
// hashes): what reached argon2, for tests and metrics.
func (a *Authenticator) Hashes() int64 { return a.hash.hashes.Load() }
