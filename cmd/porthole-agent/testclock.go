package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// testClockEnv must be "1" for --test-clock-offset-file to be accepted:
// moving the agent's clock is for end-to-end tests only ("kill the agent,
// move the clock past a break-glass expiry, start it again").
const testClockEnv = "PORTHOLE_TEST_HOOKS"

// offsetClock is the real time plus the duration written in a file (e.g.
// "11m"), read on every call so a test can move it while the agent runs
// or between runs. A missing or empty file means no offset.
type offsetClock struct{ path string }

func (c offsetClock) Now() time.Time {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return time.Now()
	}
	d, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return time.Now()
	}
	return time.Now().Add(d)
}

// testClock returns the offset clock for path, or nil when path is empty.
func testClock(path string) (*offsetClock, error) {
	if path == "" {
		return nil, nil
	}
	if os.Getenv(testClockEnv) != "1" {
		return nil, fmt.Errorf("--test-clock-offset-file is for tests only (set %s=1)", testClockEnv)
	}
	return &offsetClock{path: path}, nil
}
