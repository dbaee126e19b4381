//go:build linux

package elevation

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"porthole/agent/elevation/elevationtest"
	"porthole/internal/clock"
)

// TestRecordsElevatedProcesses runs a real `sudo` as a freshly elevated
// user and looks for the elevated processes in the events: once with the
// audit loginuid set to the user (what pam_loginuid does at a real login),
// once with it unset (attribution through sudo's real uid).
func TestRecordsElevatedProcesses(t *testing.T) {
	elevationtest.NeedRoot(t)
	for _, withLoginUID := range []bool{true, false} {
		t.Run(fmt.Sprintf("loginuid=%v", withLoginUID), func(t *testing.T) {
			ev := &events{}
			m, err := New(Config{
				StateDir: t.TempDir(), DeviceID: testDevice, Secret: testSecret,
				Clock: clock.Real{}, OnEvent: ev.add, RecordInterval: 100 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			user, uid := testUser(t)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })

			s, err := m.Elevate(ctx, user, elevationtest.Code(t, testSecret, testDevice, user, 5*time.Minute, time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			// sh stays alive (the ':' stops it from exec'ing sleep), so
			// its secret argument is visible for the whole 2 s.
			inner := fmt.Sprintf("runuser -u %s -- sudo -n /bin/sh -c 'sleep 2; :' sh password=hunter2", user)
			if withLoginUID {
				inner = fmt.Sprintf("echo %s > /proc/self/loginuid && exec %s", uid, inner)
			}
			if out, err := exec.CommandContext(ctx, "/bin/sh", "-c", inner).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v: %s", inner, err, out)
			}
			var sleepPID int
			waitFor(t, "exit event of the elevated sleep", func() bool {
				for _, e := range ev.list() {
					if e.Kind == EventProcessStart && strings.HasSuffix(e.Process.Exe, "/sleep") {
						sleepPID = e.Process.PID
					}
					if e.Kind == EventProcessExit && sleepPID != 0 && e.Process.PID == sleepPID {
						return true
					}
				}
				return false
			})
			var sawSudo, sawSecret bool
			for _, e := range ev.list() {
				if e.Process == nil {
					continue
				}
				if e.SessionID != s.ID || e.User != user || e.Process.EUID != 0 {
					t.Errorf("event not tied to the session: %+v %+v", e, e.Process)
				}
				joined := strings.Join(e.Process.Args, " ")
				if strings.Contains(joined, "hunter2") {
					t.Errorf("secret not redacted: %q", joined)
				}
				if slices.Contains(e.Process.Args, "password=[REDACTED]") {
					sawSecret = true
				}
				if e.Process.Exe == "/usr/bin/sudo" {
					sawSudo = true
				}
				if withLoginUID && e.Process.LoginUID != atoi(t, uid) {
					t.Errorf("loginuid %d, want %s: %+v", e.Process.LoginUID, uid, e.Process)
				}
				if e.Process.StartedAt.IsZero() || time.Since(e.Process.StartedAt) > time.Minute {
					t.Errorf("start time %v", e.Process.StartedAt)
				}
			}
			if !sawSecret || !sawSudo {
				t.Errorf("redacted sh seen %v, sudo seen %v; events:\n%s", sawSecret, sawSudo, dump(ev.list()))
			}
		})
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func dump(evs []Event) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Process != nil {
			fmt.Fprintf(&b, "%s pid=%d ppid=%d exe=%s args=%q\n", e.Kind, e.Process.PID, e.Process.PPID, e.Process.Exe, e.Process.Args)
		} else {
			fmt.Fprintf(&b, "%s %s\n", e.Kind, e.Reason)
		}
	}
	return b.String()
}

// BenchmarkPoll measures one /proc scan with a session watched (the cost
// paid every RecordInterval during a grant).
func BenchmarkPoll(b *testing.B) {
	src, err := newProcSource()
	if err != nil {
		b.Fatal(err)
	}
	r, _ := newTestRecorder(src)
	r.watch("S", "nobody", "65534")
	for b.Loop() {
		r.poll()
	}
	snap, _ := r.cfg.src.(uidSource).table.snapshot()
	b.ReportMetric(float64(len(snap)), "procs")
}
