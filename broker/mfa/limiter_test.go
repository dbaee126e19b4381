package mfa_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"porthole/broker/mfa"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

// fail is Limiter.Fail for a limiter without a Store (which cannot fail).
func fail(t *testing.T, l *mfa.Limiter, key string, now time.Time) time.Duration {
	t.Helper()
	d, err := l.Fail(context.Background(), key, now)
	if err != nil {
		t.Fatal(err)
	}
	return d
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
		if got := fail(t, l, "user:ann", clk.Now()); got != w {
			t.Fatalf("failure %d: wait %v, want %v", n, got, w)
		}
		if w == 0 {
			continue
		}
		// Locked until exactly w has passed.
		if wait, err := l.Check("user:ann", clk.Now()); wait != w || !errors.Is(err, mfa.ErrLocked) {
			t.Fatalf("after failure %d: Check = %v, %v; want %v, ErrLocked", n, wait, err, w)
		}
		clk.Advance(w - time.Millisecond)
		if wait, err := l.Check("user:ann", clk.Now()); wait != time.Millisecond || !errors.Is(err, mfa.ErrLocked) {
			t.Fatalf("after failure %d, 1 ms early: Check = %v, %v", n, wait, err)
		}
		clk.Advance(time.Millisecond)
	}
	// After 20 failures the account is locked for 15 minutes; the right
	// password in that time is refused because Check comes first.
	fail(t, l, "user:ann", clk.Now())
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
	if err := l.Succeed(context.Background(), "user:ann"); err != nil {
		t.Fatal(err)
	}
	if got := fail(t, l, "user:ann", clk.Now()); got != 0 {
		t.Fatalf("first failure after success: wait %v", got)
	}
}

func TestLimiterCustomConfig(t *testing.T) {
	l := mfa.NewLimiter(mfa.LimiterConfig{Free: 2, BaseDelay: 10 * time.Second, MaxDelay: 30 * time.Second})
	var got []time.Duration
	for range 5 {
		got = append(got, fail(t, l, "ip:192.0.2.1", t0))
	}
	want := fmt.Sprint([]time.Duration{0, 0, 10 * time.Second, 20 * time.Second, 30 * time.Second})
	if fmt.Sprint(got) != want {
		t.Fatalf("schedule %v, want %v", got, want)
	}
}

func TestLimiterForgets(t *testing.T) {
	clk := clocktest.New(t0)
	l := mfa.NewLimiter(mfa.LimiterConfig{Forget: time.Hour})
	for range 7 {
		fail(t, l, "k", clk.Now())
	}
	clk.Advance(time.Hour - time.Second)
	if got := fail(t, l, "k", clk.Now()); got != 4*time.Second {
		t.Fatalf("8th failure within the forget window: wait %v, want 4s", got)
	}
	clk.Advance(time.Hour)
	if wait, err := l.Check("k", clk.Now()); wait != 0 || err != nil {
		t.Fatalf("Check after the forget window = %v, %v", wait, err)
	}
	if l.Len() != 0 {
		t.Fatalf("forgotten key still held: Len = %d", l.Len())
	}
	if got := fail(t, l, "k", clk.Now()); got != 0 {
		t.Fatalf("failure after the forget window: wait %v, want 0", got)
	}
}

func TestLimiterEviction(t *testing.T) {
	clk := clocktest.New(t0)
	l := mfa.NewLimiter(mfa.LimiterConfig{Free: 1, MaxEntries: 3, Forget: time.Hour})
	for _, k := range []string{"a", "b", "c"} {
		fail(t, l, k, clk.Now())
		fail(t, l, k, clk.Now()) // locked for 1 s
		clk.Advance(time.Second)
	}
	fail(t, l, "a", clk.Now()) // a is now the most recently failed
	fail(t, l, "d", clk.Now()) // full: evicts b, the least recently failed
	if l.Len() != 3 {
		t.Fatalf("Len = %d, want 3", l.Len())
	}
	for k, wantLocked := range map[string]bool{"a": true, "b": false, "c": false, "d": false} {
		_, err := l.Check(k, clk.Now())
		if locked := errors.Is(err, mfa.ErrLocked); locked != wantLocked {
			t.Errorf("Check(%s) locked = %v, want %v", k, locked, wantLocked)
		}
	}
	if fail(t, l, "c", clk.Now()) == 0 { // a third failure for c; a first one had it been evicted
		t.Fatal("c was evicted instead of b")
	}
	// Forgotten keys are dropped first, whatever the bound.
	clk.Advance(2 * time.Hour)
	fail(t, l, "e", clk.Now())
	if l.Len() != 1 {
		t.Fatalf("Len after everything was forgotten = %d, want 1", l.Len())
	}
	// Memory stays bounded under a flood of keys.
	big := mfa.NewLimiter(mfa.LimiterConfig{MaxEntries: 100})
	for i := range 10000 {
		fail(t, big, fmt.Sprintf("ip:%d", i), clk.Now())
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

func TestLimiterConcurrent(t *testing.T) {
	l := mfa.NewLimiter(mfa.LimiterConfig{MaxEntries: 50})
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				k := fmt.Sprintf("k%d", (g*500+i)%80)
				_, _ = l.Fail(context.Background(), k, t0)
				_, _ = l.Check(k, t0)
				if i%7 == 0 {
					_ = l.Succeed(context.Background(), k)
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
	for range 7 {
		fail(t, l, "user:ann", clk.Now()) // the 7th waits 2 s
	}
	fail(t, l, "user:old", clk.Now())
	clk.Advance(time.Second)

	l = restart("account")
	if wait, err := l.Check("user:ann", clk.Now()); wait != time.Second || !errors.Is(err, mfa.ErrLocked) {
		t.Fatalf("after a restart: Check = %v, %v; want 1s, ErrLocked", wait, err)
	}
	if got := fail(t, l, "user:ann", clk.Now()); got != 4*time.Second {
		t.Fatalf("8th failure after a restart: wait %v, want 4s (the count carried over)", got)
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
		fail(t, small, k, clk.Now())
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
