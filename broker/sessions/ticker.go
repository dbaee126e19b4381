package sessions

import (
	"context"
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
