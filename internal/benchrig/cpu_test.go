package benchrig

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestTreeCPU runs a shell that waits while its child spins: the shell
// itself uses almost no CPU, the tree uses about as much as the time waited.
func TestTreeCPU(t *testing.T) {
	dir := t.TempDir()
	p, err := startProc(dir, "spin", "/bin/sh", []string{"-c", "while :; do :; done & wait"}, os.Environ(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM ends the waiting shell; its spinning child is in the tree.
		killTree(t, p.pid())
		p.stop(time.Second)
	})
	start, err := p.cpu()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	time.Sleep(time.Second)
	end, err := p.cpu()
	if err != nil {
		t.Fatal(err)
	}
	used, wall := end-start, time.Since(t0)
	// Two cores shared with other work: the spinner gets at least some of one,
	// and never more than one.
	if pct := cpuPercent(used, wall); pct < 5 || pct > 110 {
		t.Fatalf("tree used %v in %v (%.0f %%), want 5..110 %% of a core", used, wall, pct)
	}
	self, err := readProcStat(p.pid())
	if err != nil {
		t.Fatal(err)
	}
	if self.cpu > 200*time.Millisecond {
		t.Fatalf("the waiting shell alone used %v: the child's time is not separate", self.cpu)
	}
}

// killTree kills the children of pid (the test's spinner).
func killTree(t *testing.T, pid int) {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		var child int
		if _, err := fmt.Sscan(e.Name(), &child); err != nil {
			continue
		}
		if s, err := readProcStat(child); err == nil && s.ppid == pid {
			if proc, err := os.FindProcess(child); err == nil {
				_ = proc.Kill()
			}
		}
	}
}

func TestCPUPercent(t *testing.T) {
	if got := cpuPercent(1500*time.Millisecond, 10*time.Second); got != 15 {
		t.Fatalf("1.5 s in 10 s = %v %%, want 15", got)
	}
	if got := cpuPercent(time.Second, 0); got != 0 {
		t.Fatalf("zero window = %v", got)
	}
}
