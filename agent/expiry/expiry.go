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

// Config configures a Loop. Every field is required (the managers fill
// their own defaults).
type Config struct {
	Clock        clock.Clock
	Timer        clock.Timer
	PollInterval time.Duration
	Logger       *slog.Logger
	Reconcile    ReconcileFunc
}

// Loop calls Reconcile until its context ends. Safe for concurrent use.
type Loop struct {
	cfg  Config
	wake chan struct{} // Poke asks Run to reconcile now
}

// New returns a Loop; it does nothing until Run.
func New(cfg Config) *Loop {
	return &Loop{cfg: cfg, wake: make(chan struct{}, 1)}
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
// PollInterval, whichever comes first, until ctx ends; it then returns nil.
func (l *Loop) Run(ctx context.Context) error {
	for {
		now := l.cfg.Clock.Now()
		next, err := l.cfg.Reconcile(ctx, now)
		if ctx.Err() != nil {
			return nil
		}
		wait := l.cfg.PollInterval
		switch {
		case err != nil:
			l.cfg.Logger.Warn("reconcile", "err", err)
			wait = min(wait, RetryDelay)
		case !next.IsZero():
			wait = min(wait, next.Sub(now))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-l.cfg.Timer.After(wait):
		case <-l.wake:
		}
	}
}
