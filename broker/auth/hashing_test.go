package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"porthole/broker/store"
)

// TestDummyHashParams: the unknown-user hash costs what a real one costs.
func TestDummyHashParams(t *testing.T) {
	real, err := HashPassword("x")
	if err != nil {
		t.Fatal(err)
	}
	params := func(h string) string { return strings.Join(strings.Split(h, "$")[1:4], "$") }
	if params(dummyHash) != params(real) {
		t.Fatalf("dummy hash parameters %s, a new hash has %s", params(dummyHash), params(real))
	}
	if ok, err := CheckPassword(dummyHash, "x"); ok || err != nil {
		t.Fatalf("CheckPassword(dummyHash) = %v, %v", ok, err)
	}
}

// gate is a fake hash that holds its slot until released, and counts how
// many run at once.
type gate struct {
	release       chan struct{}
	started       chan struct{}
	running, peak atomic.Int32
	mu            sync.Mutex
	calls         int
}

func newGate() *gate { return &gate{release: make(chan struct{}), started: make(chan struct{}, 100)} }

func (g *gate) check(string, string) (bool, error) {
	n := g.running.Add(1)
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	g.started <- struct{}{}
	<-g.release
	g.running.Add(-1)
	return false, nil
}

// TestHashingBounded: at most Concurrent hashes run, Queue more wait, and
// the rest are refused at once with ErrBusy; a waiter gets a slot when one
// frees, or ErrBusy after Wait, or its context's error.
func TestHashingBounded(t *testing.T) {
	h := newHasher(HashLimits{Concurrent: 2, Queue: 1, Wait: time.Minute})
	g := newGate()
	h.check = g.check
	ctx := context.Background()
	results := make(chan error, 10)
	try := func() {
		go func() {
			_, err := h.checkPassword(ctx, "h", "pw")
			results <- err
		}()
	}
	try()
	try()
	<-g.started
	<-g.started
	try() // waits in the queue
	waitUntil(t, "a third caller queued", func() bool { return len(h.admit) == 3 })
	for range 5 { // queue full: refused at once
		if _, err := h.checkPassword(ctx, "h", "pw"); !errors.Is(err, ErrBusy) {
			t.Fatalf("over the queue: %v, want ErrBusy", err)
		}
	}
	g.release <- struct{}{} // one finishes: the queued one runs
	if err := <-results; err != nil {
		t.Fatal(err)
	}
	<-g.started
	close(g.release)
	for range 2 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	if g.peak.Load() != 2 || g.calls != 3 || h.hashes.Load() != 3 {
		t.Fatalf("peak %d running, %d calls, %d counted; want 2, 3, 3", g.peak.Load(), g.calls, h.hashes.Load())
	}

	// The wait is bounded, and a caller who gives up stops waiting.
	h = newHasher(HashLimits{Concurrent: 1, Wait: 50 * time.Millisecond})
	g = newGate()
	h.check = g.check
	go func() { _, _ = h.checkPassword(ctx, "h", "pw") }()
	<-g.started
	start := time.Now()
	if _, err := h.checkPassword(ctx, "h", "pw"); !errors.Is(err, ErrBusy) || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("waiting past Wait: %v after %v, want ErrBusy after 50ms", err, time.Since(start))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.checkPassword(cctx, "h", "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(g.release)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPasswordHashesBounded: with the real argon2id, known and unknown
// users alike take exactly one hash each, through the same slots, never
// more at once than the bound.
func TestPasswordHashesBounded(t *testing.T) {
	a, _, _ := newAuth(t)
	a.hash = newHasher(HashLimits{Concurrent: 2, Wait: time.Minute})
	var running, peak atomic.Int32
	a.hash.check = func(hash, pw string) (bool, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		return CheckPassword(hash, pw)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i, user := range []string{"ann", "ghost", "ANN", "nobody"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.Password(ctx, user, fmt.Sprint("wrong", i))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if a.Hashes() != 4 || peak.Load() > 2 {
		t.Fatalf("%d hashes, at most %d at once; want 4, at most 2", a.Hashes(), peak.Load())
	}
	// New hashes (a created user's password) share the bound.
	if h, err := a.HashPassword(ctx, "pw2"); err != nil || a.Hashes() != 5 {
		t.Fatalf("HashPassword = %q, %v; %d hashes", h, err, a.Hashes())
	}
}

// TestUsernamesFoldCase: logins and lookups fold ASCII case; nothing
// outside ASCII folds onto an account.
func TestUsernamesFoldCase(t *testing.T) {
	a, st, clk := newAuth(t)
	ctx := context.Background()
	if u, err := a.Password(ctx, "ANN", "pw"); err != nil || u.ID != "u1" {
		t.Errorf("Password(ANN) = %+v, %v", u, err)
	}
	const h = "$argon2id$never-checked"
	if err := st.CreateUser(ctx, store.User{ID: "u2", Username: "Kate", PasswordHash: h, Role: "admin", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	at, err := a.Lookup(ctx, "KATE")
	if err != nil || !at.Exists || at.User.Username != "kate" || at.Name != "kate" {
		t.Fatalf("Lookup(KATE) = %+v, %v", at, err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "u3", Username: "kATE", PasswordHash: h, Role: "admin", CreatedAt: clk.Now()}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second kate in another case: %v, want ErrConflict", err)
	}
	// U+212A KELVIN SIGN lower-cases to "k" in Unicode; it is not kate.
	if at, err := a.Lookup(ctx, "\u212Aate"); err != nil || at.Exists {
		t.Fatalf("Lookup(Kelvin sign + ate) = %+v, %v; want no account", at, err)
	}
}
