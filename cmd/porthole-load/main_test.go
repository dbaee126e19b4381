package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"porthole/internal/loadtest"
)

// TestLoadSmoke is make load in small: 200 agents enroll through the real
// API and link to the real broker binary with the agent's link code; the
// broker itself must count every one as authenticated and online, at
// steady state and again after a restart.
func TestLoadSmoke(t *testing.T) {
	if _, err := loadtest.RaiseFileLimit(); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "porthole-broker")
	if out, err := exec.Command("go", "build", "-o", bin, "porthole/cmd/porthole-broker").CombinedOutput(); err != nil {
		t.Fatalf("build broker: %v\n%s", err, out)
	}
	rep, err := loadtest.Run(context.Background(), t.TempDir(), loadtest.Config{BrokerBin: bin, Agents: 200, Heartbeat: time.Second,
		Steady: 2 * time.Second, Restart: true, ReconnectLimit: 60 * time.Second, Out: tWriter{t}})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	if rep.ConnectSeconds <= 0 || rep.ReconnectSeconds <= 0 || rep.LoadedRSSKB <= rep.BaseRSSKB/2 || rep.Goroutines < 200 {
		t.Fatalf("implausible report %+v", rep)
	}
	sum := 0
	for _, n := range rep.HandshakesPerSecond {
		sum += n
	}
	if sum < 200 {
		t.Fatalf("%d handshakes after the restart, want at least 200: %v", sum, rep.HandshakesPerSecond)
	}
	t.Logf("report: %+v", rep)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Logf("%s", p); return len(p), nil }
