//go:build linux || windows

package elevation

import (
	"testing"
	"time"
)

// waitFor polls cond for up to 10 s of real time (Run works in its own
// goroutine after a fake-clock Advance).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
