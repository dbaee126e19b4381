package clocktest

import (
	"context"
	"sync"
	"time"
)

// TimerClock is a fake clock.Clock that also hands out timers (After), for
// code that sleeps until a deadline (break-glass and elevation expiry).
// Timers fire when Advance or Set moves the time to or past their deadline.
type TimerClock struct {
	mu      sync.Mutex
	now     time.Time // guarded by mu
	waiters []waiter  // guarded by mu; pending After channels
	changed chan struct{}
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewTimerClock returns a TimerClock set to t.
func NewTimerClock(t time.Time) *TimerClock {
	return &TimerClock{now: t, changed: make(chan struct{})}
}

// Now returns the fake time.
func (c *TimerClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the fake time once it has moved d
// past now. d <= 0 fires at once.
func (c *TimerClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	c.notifyLocked()
	return ch
}

// Advance moves the time forward by d and fires due timers.
func (c *TimerClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now // buffered, never blocks
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
	c.notifyLocked()
}

// Waiters is the number of timers not yet fired.
func (c *TimerClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// BlockUntil waits until at least n timers are pending (so the code under
// test is asleep and an Advance will be seen), or ctx ends.
func (c *TimerClock) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		pending, changed := len(c.waiters), c.changed
		c.mu.Unlock()
		if pending >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// notifyLocked wakes BlockUntil callers.
func (c *TimerClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}
