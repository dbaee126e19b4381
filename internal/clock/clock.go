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
