package sessions

import (
	"context"
	"log/slog"
	"time"
)

// Ticker wakes a session's expiry watcher. The injected clock.Clock says
// what time it is; the Ticker only says when to look, so tests drive expiry
// by advancing a fake clock and firing a hand-driven Ticker
// (sessionstest.Ticks) instead of sleeping.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// NewRealTicker is the production Ticker: a time.Ticker.
func NewRealTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Every calls f on each tick of a Ticker from newTicker(d) until ctx ends:
// the loop behind every background expiry (requests, access grants).
func Every(ctx context.Context, newTicker func(time.Duration) Ticker, d time.Duration, f func(context.Context)) {
	t := newTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			f(ctx)
		}
	}
}

// ExpireEvery is the Run loop of a background expiry service (requests,
// access grants): it calls expire on each tick until ctx ends and logs a
// failure, other than one caused by ctx ending, at error level as msg. A nil
// newTicker means NewRealTicker and a zero d one second, the defaults those
// services document for their Config.
func ExpireEvery(ctx context.Context, log *slog.Logger, msg string, newTicker func(time.Duration) Ticker, d time.Duration,
	expire func(context.Context) (int, error)) {
	if newTicker == nil {
		newTicker = NewRealTicker
	}
	if d == 0 {
		d = time.Second
	}
	Every(ctx, newTicker, d, func(ctx context.Context) {
		if _, err := expire(ctx); err != nil && ctx.Err() == nil {
			log.Error(msg, "err", err)
		}
	})
}
