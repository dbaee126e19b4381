package link

import (
	"testing"
	"time"
)

// TestBackoffSpread: retries grow exponentially within bounds, and the
// first retry after a good link is spread over seconds (no herd), not
// bunched within one.
func TestBackoffSpread(t *testing.T) {
	l := New(Config{})
	for attempt, hi := range map[int]time.Duration{0: 1500 * time.Millisecond, 2: 4500 * time.Millisecond, goodLinkAttempt: 8500 * time.Millisecond,
		30: 60500 * time.Millisecond} {
		var lo, top time.Duration = time.Hour, 0
		late := 0
		for range 2000 {
			d := l.backoff(attempt)
			lo, top = min(lo, d), max(top, d)
			if d > hi/2 {
				late++
			}
		}
		if lo < 500*time.Millisecond || top >= hi {
			t.Errorf("attempt %d: delays in [%v, %v], want [0.5s, %v)", attempt, lo, top, hi)
		}
		if late < 600 {
			t.Errorf("attempt %d: only %d of 2000 delays past %v: not spread", attempt, late, hi/2)
		}
	}
	// A fleet's first retry after a good link: at most a sixth of it in
	// any one second.
	per := map[int]int{}
	for range 6000 {
		per[int(l.backoff(goodLinkAttempt)/time.Second)]++
	}
	for s, n := range per {
		if n > 1000 {
			t.Errorf("%d of 6000 retries in second %d", n, s)
		}
	}
}
