// Package expiry runs the loop that takes temporary privileges away on time
// with no broker in reach. The break-glass accounts and the elevation
// managers both keep a journal of deadlines; a Loop applies it at once, then
// again at the earliest deadline it reports, whenever it is poked about a
// new deadline, and at least every poll interval, which also catches the
// wall-clock jumps (suspend, NTP) a monotonic timer would miss.
package expiry

import (
	"context"
	"log/slog"
	"time"

	"porthole/internal/clock"
)

// RetryDelay is the longest a Loop waits before retrying after a failed
// reconcile (a removal that did not work is tried again soon).
const RetryDelay = 10 * time.Second

// ReconcileFunc applies the deadlines due at now and returns the earliest
// future one, zero if none. An error is logged and retried after RetryDelay.
type ReconcileFunc func(ctx context.Context, now time.Time) (next time.Time, err error)

// Loop calls a ReconcileFunc until its context ends. Safe for concurrent
// use.
type Loop struct {
	clock     clock.Clock
	timer     clock.Timer
	poll      time.Duration // the longest sleep
	log       *slog.Logger
	reconcile ReconcileFunc
	wake      chan struct{} // Poke asks Run to reconcile now
}

// New returns a Loop that sleeps on timer, reads the time from clk, sleeps
// at most poll and logs failed reconciles to log. All are required (the
// managers fill their own defaults). It does nothing until Run.
func New(clk clock.Clock, timer clock.Timer, poll time.Duration, log *slog.Logger, reconcile ReconcileFunc) *Loop {
	return &Loop{clock: clk, timer: timer, poll: poll, log: log, reconcile: reconcile, wake: make(chan struct{}, 1)}
}

// Poke makes Run reconcile now because a new deadline exists. It never
// blocks: pokes while one is pending are merged.
func (l *Loop) Poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Run reconciles at once, then at the earliest deadline, on Poke or after
// the poll interval, whichever comes first, until ctx ends; it then returns nil.
func (l *Loop) Run(ctx context.Context) error {
	for {
		now := l.clock.Now()
		next, err := l.reconcile(ctx, now)
		if ctx.Err() != nil {
			return nil
		}
		wait := l.poll
		switch {
		case err != nil:
			l.log.Warn("reconcile", "err", err)
			wait = min(wait, RetryDelay)
		case !next.IsZero():
			wait = min(wait, next.Sub(now))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-l.timer.After(wait):
		case <-l.wake:
		}
	}
}
