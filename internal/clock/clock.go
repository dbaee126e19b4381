// Package clock lets code with deadlines (sessions, tokens, expiry, codes)
// take time from an injected source, so tests move time instead of sleeping.
package clock

import "time"

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now.
func (Real) Now() time.Time { return time.Now() }

// Timer gives the channels a loop sleeps on until a deadline; tests drive it
// with clocktest.TimerClock instead of sleeping.
type Timer interface {
	// After returns a channel that receives once d has elapsed.
	After(d time.Duration) <-chan time.Time
}

// RealTimer is the system's timers.
type RealTimer struct{}

// After returns time.After(d).
func (RealTimer) After(d time.Duration) <-chan time.Time { return time.After(d) }
