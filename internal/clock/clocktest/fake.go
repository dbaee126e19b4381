// Package clocktest provides a settable clock for tests.
package clocktest

import (
	"sync"
	"time"

	"porthole/internal/clock"
)

var _ clock.Clock = (*Fake)(nil)

// Fake is a clock that only moves when told to.
type Fake struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

// New returns a Fake set to t.
func New(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}
