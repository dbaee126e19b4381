// Package sessionstest drives the session manager's expiry timers by hand:
// with a clocktest.Fake for the time and Ticks for the wake-ups, a test
// walks a session through minutes of expiry without sleeping.
package sessionstest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"porthole/broker/sessions"
)

var _ sessions.Ticker = (*ticker)(nil)

// Ticks hands out tickers that fire only when Tick is called. Use its
// NewTicker as sessions.Config.NewTicker (or broker.Config.NewTicker).
type Ticks struct {
	mu      sync.Mutex
	tickers map[*ticker]struct{} // live tickers; guarded by mu
}

// New returns Ticks with no tickers.
func New() *Ticks { return &Ticks{tickers: map[*ticker]struct{}{}} }

type ticker struct {
	owner   *Ticks
	c       chan time.Time
	stopped chan struct{}
	once    sync.Once
}

func (t *ticker) C() <-chan time.Time { return t.c }

func (t *ticker) Stop() {
	t.once.Do(func() {
		t.owner.mu.Lock()
		delete(t.owner.tickers, t)
		t.owner.mu.Unlock()
		close(t.stopped)
	})
}

// NewTicker returns a ticker fired by Tick; the period is ignored.
func (k *Ticks) NewTicker(time.Duration) sessions.Ticker {
	t := &ticker{owner: k, c: make(chan time.Time), stopped: make(chan struct{})}
	k.mu.Lock()
	k.tickers[t] = struct{}{}
	k.mu.Unlock()
	return t
}

// Len is the number of live (not stopped) tickers.
func (k *Ticks) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.tickers)
}

// Tick delivers now to every live ticker and returns once each has taken it
// (or was stopped). A watcher takes the next tick only after handling the
// previous one, so two Ticks in a row mean the first was fully handled.
func (k *Ticks) Tick(ctx context.Context, now time.Time) error {
	k.mu.Lock()
	all := make([]*ticker, 0, len(k.tickers))
	for t := range k.tickers {
		all = append(all, t)
	}
	k.mu.Unlock()
	for _, t := range all {
		select {
		case t.c <- now:
		case <-t.stopped:
		case <-ctx.Done():
			return fmt.Errorf("sessionstest: tick not taken: %w", ctx.Err())
		}
	}
	return nil
}
