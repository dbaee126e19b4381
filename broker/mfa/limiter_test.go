package mfa_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"porthole/broker/mfa"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

// fail counts one wrong guess on key the way callers do (Reserve, left
// unsettled), first waiting out any lock on clk, and returns the wait the
// failure imposes.
func fail(t *testing.T, l *mfa.Limiter, clk *clocktest.Fake, key string) time.Duration {
	t.Helper()
	if wait, _ := l.Check(key, clk.Now()); wait > 0 {
		clk.Advance(wait)
	}
	if _, wait, err := l.Reserve(context.Background(), key, clk.Now()); wait != 0 || err != nil {
		t.Fatalf("Reserve(%s) = %v, %v", key, wait, err)
	}
	wait, _ := l.Check(key, clk.Now())
	return wait
}

func TestLimiterBackoffSchedule(t *testing.T) {
	clk := clocktest.New(t0)
	l := mfa.NewLimiter(mfa.LimiterConfig{}) // defaults: 5 free, 1 s doubling, 15 min cap
	want := []time.Duration{
		0, 0, 0, 0, 0, // failures 1–5 are free
		1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, 64 * time.Second, 128 * time.Second, 256 * time.Second, 512 * time.Second,
		15 * time.Minute, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute,
	}
	for i, w := range want {
		n := i + 1
		if wait, err := l.Check("user:ann", clk.Now()); wait != 0 || err != nil {
			t.Fatalf("before failure %d: Check = %v, %v; want free", n, wait, err)
		}
		if got := fail(t, l, clk, "user:ann"); got != w {
			t.Fatalf("failure %d: wait %v, want %v", n, got, w)
		}
		if w == 0 {
			continue
		}
		// Locked until exactly w has passed, and a locked key counts nothing.
		if _, wait, err := l.Reserve(context.Background(), "user:ann", clk.Now()); wait != w || !errors.Is(err, mfa.ErrLocked) {
			t.Fatalf("after failure %d: Reserve = %v, %v; want %v, ErrLocked", n, wait, err, w)
		}
		clk.Advance(w - time.Millisecond)
		if wait, err := l.Check("user:ann", clk.Now()); wait != time.Millisecond || !errors.Is(err, mfa.ErrLocked) {
			t.Fatalf("after failure %d, 1 ms early: Check = %v, %v", n, wait, err)
		}
		clk.Advance(time.Millisecond)
	}
	if got := l.Failures("user:ann", clk.Now()); got != 20 {
		t.Fatalf("Failures = %d, want 20 (refused attempts do not count)", got)
	}
	// After 21 failures the account is locked for 15 minutes; the right
	// password in that time is refused because Reserve comes first.
	fail(t, l, clk, "user:ann")
	if wait, err := l.Check("user:ann", clk.Now()); wait != 15*time.Minute || !errors.Is(err, mfa.ErrLocked) {
		t.Fatalf("locked account: Check = %v, %v", wait, err)
	}
	if _, err := l.Check("user:bob", clk.Now()); err != nil {
		t.Fatalf("other keys are not affected: %v", err)
	}
	clk.Advance(15 * time.Minute)
	if _, err := l.Check("user:ann", clk.Now()); err != nil {
		t.Fatalf("lock did not lift after its time: %v", err)
	}
	// Success clears the history: the next failure is free again.
	r, _, err := l.Reserve(context.Background(), "user:ann", clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Succeed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fail(t, l, clk, "user:ann"); got != 0 {
		t.Fatalf("first failure after success: wait %v", got)
	}
}

func TestLimiterCustomConfig(t *testing.T) {
	clk := clocktest.New(t0)
	l := mfa.NewLimiter(mfa.LimiterConfig{Free: 2, BaseDelay: 10 * time.Second, MaxDelay: 30 * time.Second})
	var got []time.Duration
	for range 5 {
		got = append(got, fail(t, l, clk, "ip:192.0.2.1"))
	}
	want := fmt.Sprint([]time.Duration{0, 0, 10 * time.Second, 20 * time.Second, 30 * time.Second})
	if fmt.Sprint(got) != want {
		t.Fatalf("schedule %v, want %v", got, want)
	}
}

// TestLimiterParallelAttempts: attempts that arrive together each count
// before any is checked, so exactly Free+1 of them go ahead (the last one
// starts the first delay) and the rest are refused, however many there
// are. Checking first and counting after let all of them through.
func TestLimiterParallelAttempts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      mfa.LimiterConfig
		parallel int
		want     int
	}{
		{"account, 16 at once", mfa.LimiterConfig{}, 16, 6},
		{"account, 30 at once", mfa.LimiterConfig{}, 30, 6},
		{"address, 30 at once", mfa.LimiterConfig{Free: 10, MaxDelay: time.Minute, Forget: time.Hour}, 30, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mfa.NewLimiter(tc.cfg)
			var wg sync.WaitGroup
			var reserved, refused atomic.Int32
			start := make(chan struct{})
			for range tc.parallel {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, wait, err := l.Reserve(context.Background(), "user:ann", t0)
					switch {
					case wait > 0 && errors.Is(err, mfa.ErrLocked):
						refused.Add(1)
					case err == nil:
						time.Sleep(time.Millisecond) // the check, while others arrive
						reserved.Add(1)
					default:
						t.Error(err)
					}
				}()
			}
			close(start)
			wg.Wait()
			if reserved.Load() != int32(tc.want) || refused.Load() != int32(tc.parallel-tc.want) {
				t.Fatalf("%d went ahead, %d refused; want %d and %d", reserved.Load(), refused.Load(), tc.want, tc.parallel-tc.want)
			}
			if got := l.Failures("user:ann", t0); got != tc.want {
				t.Fatalf("Failures = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestLimiterRefund: a refunded attempt is as if it never happened; a
// refund after the key was forgotten (a success, an unlock) or started
// afresh takes nothing from the counts made since.
func TestLimiterRefund(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(t0)
	l := mfa.NewLimiter(mfa.LimiterConfig{})
	for range 5 {
		fail(t, l, clk, "k")
	}
	r, _, err := l.Reserve(ctx, "k", clk.Now()) // the 6th: locks for 1 s
	if err != nil {
		t.Fatal(err)
	}
	if wait, _ := l.Check("k", clk.Now()); wait != time.Second {
		t.Fatalf("reserved 6th attempt: wait %v, want 1s", wait)
	}
	if err := r.Refund(ctx); err != nil {
		t.Fatal(err)
	}
	if wait, _ := l.Check("k", clk.Now()); wait != 0 || l.Failures("k", clk.Now()) != 5 {
		t.Fatalf("after the refund: wait %v, %d failures; want 0, 5", wait, l.Failures("k", clk.Now()))
	}
	if err := r.Refund(ctx); err != nil || l.Failures("k", clk.Now()) != 5 {
		t.Fatalf("a second refund of one reservation: %v, %d failures; want 5", err, l.Failures("k", clk.Now()))
	}
	// Refunding the last failure forgets the key.
	solo, _, _ := l.Reserve(ctx, "solo", clk.Now())
	_ = solo.Refund(ctx)
	if _, err := l.Check("solo", clk.Now()); err != nil || l.Failures("solo", clk.Now()) != 0 {
		t.Fatal("refunded lone attempt left a trace")
	}
	// A success in between: the old reservation refunds nothing.
	old, _, _ := l.Reserve(ctx, "k", clk.Now())
	if err := l.Succeed(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	fail(t, l, clk, "k")
	fail(t, l, clk, "k")
	_ = old.Refund(ctx)
	if got := l.Failures("k", clk.Now()); got != 2 {
		t.Fatalf("a refund from before a success took from the new count: %d failures, want 2", got)
	}
	// Started afresh after Forget: likewise.
	stale, _, _ := l.Reserve(ctx, "k", clk.Now())
	clk.Advance(25 * time.Hour)
	fail(t, l, clk, "k")
	_ = stale.Refund(ctx)
	if got := l.Failures("k", clk.Now()); got != 1 {
		t.Fatalf("a refund from before the key was forgotten: %d failures, want 1", got)
	}
	var none *mfa.Reservation // what a refused Reserve returns
	if none.Refund(ctx) != nil || none.Succeed(ctx) != nil {
		t.Fatal("a nil Reservation settles something")
	}
}

func TestLimiterForgets(t *testing.T) {
	clk := clocktest.New(t0)
	l := mfa.NewLimiter(mfa.LimiterConfig{Forget: time.Hour})
	for range 7 {
		fail(t, l, clk, "k") // the 7th comes after the 6th's 1 s
	}
	clk.Advance(time.Hour - time.Second)
	if got := fail(t, l, clk, "k"); got != 4*time.Second {
		t.Fatalf("8th failure within the forget window: wait %v, want 4s", got)
	}
	clk.Advance(time.Hour)
	if wait, err := l.Check("k", clk.Now()); wait != 0 || err != nil {
		t.Fatalf("Check after the forget window = %v, %v", wait, err)
	}
	if l.Len() != 0 {
		t.Fatalf("forgotten key still held: Len = %d", l.Len())
	}
	if got := fail(t, l, clk, "k"); got != 0 {
		t.Fatalf("failure after the forget window: wait %v, want 0", got)
	}
}

func TestLimiterEviction(t *testing.T) {
	clk := clocktest.New(t0)
	l := mfa.NewLimiter(mfa.LimiterConfig{Free: 1, MaxEntries: 3, Forget: time.Hour})
	for _, k := range []string{"a", "b", "c"} {
		fail(t, l, clk, k)
		fail(t, l, clk, k) // locked for 1 s
		clk.Advance(time.Second)
	}
	fail(t, l, clk, "a") // a is now the most recently failed
	fail(t, l, clk, "d") // full: evicts b, the least recently failed
	if l.Len() != 3 {
		t.Fatalf("Len = %d, want 3", l.Len())
	}
	for k, wantLocked := range map[string]bool{"a": true, "b": false, "c": false, "d": false} {
		_, err := l.Check(k, clk.Now())
		if locked := errors.Is(err, mfa.ErrLocked); locked != wantLocked {
			t.Errorf("Check(%s) locked = %v, want %v", k, locked, wantLocked)
		}
	}
	if fail(t, l, clk, "c") == 0 { // a third failure for c; a first one had it been evicted
		t.Fatal("c was evicted instead of b")
	}
	// Forgotten keys are dropped first, whatever the bound.
	clk.Advance(2 * time.Hour)
	fail(t, l, clk, "e")
	if l.Len() != 1 {
		t.Fatalf("Len after everything was forgotten = %d, want 1", l.Len())
	}
	// Memory stays bounded under a flood of keys.
	big := mfa.NewLimiter(mfa.LimiterConfig{MaxEntries: 100})
	for i := range 10000 {
		fail(t, big, clk, fmt.Sprintf("ip:%d", i))
	}
	if big.Len() != 100 {
		t.Fatalf("Len after a flood = %d, want 100", big.Len())
	}
	// Unknown keys cost no memory on Check.
	for i := range 1000 {
		if _, err := l.Check(fmt.Sprintf("never-%d", i), clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if l.Len() != 1 {
		t.Fatalf("Check grew the limiter to %d", l.Len())
	}
}

// TestLimiterNoEviction: a limiter whose keys the caller bounds (one per
// real account) keeps every key whatever MaxEntries says, so no flood
// elsewhere can drop an account's count; forgotten keys still go.
func TestLimiterNoEviction(t *testing.T) {
	clk := clocktest.New(t0)
	l := mfa.NewLimiter(mfa.LimiterConfig{MaxEntries: 2, NoEviction: true, Forget: time.Hour})
	for range 6 {
		fail(t, l, clk, "user:ann")
	}
	for i := range 10 {
		fail(t, l, clk, fmt.Sprintf("user:%d", i))
	}
	if l.Len() != 11 {
		t.Fatalf("Len = %d, want 11", l.Len())
	}
	if _, err := l.Check("user:ann", clk.Now()); !errors.Is(err, mfa.ErrLocked) {
		t.Fatal("ann's lock was dropped")
	}
	clk.Advance(2 * time.Hour)
	fail(t, l, clk, "user:new")
	if l.Len() != 1 {
		t.Fatalf("forgotten keys kept: Len = %d", l.Len())
	}
}

// TestLimiterForgetPrefix: an unlock forgets every key of one account and
// nothing else.
func TestLimiterForgetPrefix(t *testing.T) {
	clk := clocktest.New(t0)
	l := mfa.NewLimiter(mfa.LimiterConfig{})
	for _, k := range []string{"login:u1", "login:u1@ip:192.0.2.1", "login:u10", "mfa:u1"} {
		for range 6 {
			fail(t, l, clk, k)
		}
	}
	n, err := l.ForgetPrefix(context.Background(), "login:u1@")
	if err != nil || n != 1 {
		t.Fatalf("ForgetPrefix = %d, %v; want 1", n, err)
	}
	for k, locked := range map[string]bool{"login:u1": true, "login:u1@ip:192.0.2.1": false, "login:u10": true, "mfa:u1": true} {
		if _, err := l.Check(k, clk.Now()); errors.Is(err, mfa.ErrLocked) != locked {
			t.Errorf("%s locked = %v, want %v", k, !locked, locked)
		}
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := mfa.NewLimiter(mfa.LimiterConfig{MaxEntries: 50})
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				k := fmt.Sprintf("k%d", (g*500+i)%80)
				r, _, _ := l.Reserve(context.Background(), k, t0)
				_, _ = l.Check(k, t0)
				switch i % 7 {
				case 0:
					_ = r.Succeed(context.Background())
				case 1:
					_ = r.Refund(context.Background())
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	if l.Len() > 50 {
		t.Fatalf("Len = %d over the bound", l.Len())
	}
}

func TestIPKey(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"192.0.2.7", "ip:192.0.2.7"},
		{"::ffff:192.0.2.7", "ip:192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "ip:2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "ip:2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "ip:2001:db8:1:3::/64"},
		{"fe80::1%eth0", "ip:fe80::/64"},
	}
	for _, tc := range tests {
		if got := mfa.IPKey(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("IPKey(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestStepUp(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		last   time.Time
		want   error
	}{
		{"never verified", 0, time.Time{}, mfa.ErrStepUpRequired},
		{"just now", 0, t0, nil},
		{"9m59s ago", 0, t0.Add(-(10*time.Minute - time.Second)), nil},
		{"10m ago (default window)", 0, t0.Add(-10 * time.Minute), mfa.ErrStepUpRequired},
		{"an hour ago", 0, t0.Add(-time.Hour), mfa.ErrStepUpRequired},
		{"in the future", 0, t0.Add(time.Second), mfa.ErrStepUpRequired},
		{"1m ago, 2m window", 2 * time.Minute, t0.Add(-time.Minute), nil},
		{"3m ago, 2m window", 2 * time.Minute, t0.Add(-3 * time.Minute), mfa.ErrStepUpRequired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mfa.StepUp{Window: tc.window}
			if err := s.Check(tc.last, t0); !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
			if s.Fresh(tc.last, t0) != (tc.want == nil) {
				t.Fatal("Fresh disagrees with Check")
			}
		})
	}
}

// TestLimiterStore: with a Store (the real one), a lockout outlives the
// Limiter (a broker restart), a success forgets the key for good, keys
// past Forget are pruned, and scopes are apart.
func TestLimiterStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clocktest.New(t0)
	restart := func(scope string) *mfa.Limiter {
		t.Helper()
		l := mfa.NewLimiter(mfa.LimiterConfig{Store: st, Scope: scope})
		if err := l.Load(ctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := restart("account")
	for range 6 {
		fail(t, l, clk, "user:ann") // the 6th locks for 1 s
	}
	clk.Advance(time.Second)
	fail(t, l, clk, "user:ann") // the 7th for 2 s
	fail(t, l, clk, "user:old")
	clk.Advance(time.Second)

	l = restart("account")
	if wait, err := l.Check("user:ann", clk.Now()); wait != time.Second || !errors.Is(err, mfa.ErrLocked) {
		t.Fatalf("after a restart: Check = %v, %v; want 1s, ErrLocked", wait, err)
	}
	if got := fail(t, l, clk, "user:ann"); got != 4*time.Second {
		t.Fatalf("8th failure after a restart: wait %v, want 4s (the count carried over)", got)
	}
	// A refund reaches the Store: the 9th attempt, refunded, leaves 8.
	clk.Advance(4 * time.Second)
	r, _, err := l.Reserve(ctx, "user:ann", clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Refund(ctx); err != nil {
		t.Fatal(err)
	}
	if l = restart("account"); l.Failures("user:ann", clk.Now()) != 8 {
		t.Fatalf("after a refund and a restart: %d failures, want 8", l.Failures("user:ann", clk.Now()))
	}
	if wait, _ := l.Check("user:ann", clk.Now()); wait != 0 {
		t.Fatalf("after a refund and a restart: wait %v, want 0", wait)
	}
	if other := restart("addr"); other.Len() != 0 {
		t.Fatalf("another scope sees %d keys", other.Len())
	}
	if err := l.Succeed(ctx, "user:ann"); err != nil {
		t.Fatal(err)
	}
	l = restart("account")
	if l.Len() != 1 {
		t.Fatalf("after a success and a restart: %d keys, want 1 (user:old)", l.Len())
	}
	if wait, err := l.Check("user:ann", clk.Now()); wait != 0 || err != nil {
		t.Fatalf("forgotten account: Check = %v, %v", wait, err)
	}
	// The Store holds no more keys than memory: evicted ones are deleted.
	small := mfa.NewLimiter(mfa.LimiterConfig{Store: st, Scope: "small", MaxEntries: 3})
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		fail(t, small, clk, k)
	}
	if saved, err := st.LoginLimits(ctx, "small", time.Time{}, time.Time{}); err != nil || len(saved) != 3 || saved[0].Key != "c" {
		t.Fatalf("store after evictions: %+v %v, want c, d, e", saved, err)
	}
	clk.Advance(25 * time.Hour) // past the default Forget of 24 h
	if l = restart("account"); l.Len() != 0 {
		t.Fatalf("a key past Forget was loaded: %d keys", l.Len())
	}
	if saved, err := st.LoginLimits(ctx, "account", time.Time{}, time.Time{}); err != nil || len(saved) != 0 {
		t.Fatalf("pruned rows left: %+v %v", saved, err)
	}
}
