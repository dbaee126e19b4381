package expiry

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/internal/clock/clocktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestLoopWaits checks each reason Run wakes: the reported deadline, the
// poll interval, the retry delay after an error, and Poke.
func TestLoopWaits(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktest.NewTimerClock(start)
	type result struct {
		next time.Time
		err  error
	}
	calls := make(chan time.Time)
	results := make(chan result)
	l := New(clk, clk, time.Minute, slog.New(slog.DiscardHandler), func(ctx context.Context, now time.Time) (time.Time, error) {
		calls <- now
		r := <-results
		return r.next, r.err
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()

	step := func(r result, advance time.Duration, want time.Time) {
		t.Helper()
		results <- r
		if err := clk.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if advance > 0 {
			clk.Advance(advance)
		} else {
			l.Poke()
		}
		if got := <-calls; !got.Equal(want) {
			t.Fatalf("reconciled at %v, want %v", got, want)
		}
	}
	if got := <-calls; !got.Equal(start) {
		t.Fatalf("first reconcile at %v, want at once (%v)", got, start)
	}
	// A deadline sooner than the poll interval.
	step(result{next: start.Add(5 * time.Second)}, 5*time.Second, start.Add(5*time.Second))
	// No deadline: the poll interval.
	step(result{}, time.Minute, start.Add(65*time.Second))
	// An error: the retry delay.
	step(result{err: errors.New("boom")}, RetryDelay, start.Add(75*time.Second))
	// Poke: at once, without time moving.
	step(result{}, 0, start.Add(75*time.Second))

	cancel()
	results <- result{}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v, want nil when ctx ends", err)
	}
}
