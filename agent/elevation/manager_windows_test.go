package elevation

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"porthole/agent/elevation/elevationtest"
	"porthole/agent/winlocal"
	"porthole/internal/clock"
)

// TestWin32ElevateAndRecord runs a grant through the real Win32 calls and
// records a real elevated process. It runs under Wine only: there every
// process holds an elevated token of the one user, and the group calls
// report success without changing anything (so this shows the calls are
// made and the recording works, not that a membership changed; the
// membership logic is wingroup_test.go's, against the fake).
// helperEnv makes the test binary a sleeper (TestHelperSleep): the
// elevated child, without children of its own.
const helperEnv = "ELEVATION_TEST_HELPER"

func TestHelperSleep(t *testing.T) {
	if os.Getenv(helperEnv) != "sleep" {
		t.Skip("the child process of TestWin32ElevateAndRecord")
	}
	time.Sleep(2 * time.Minute)
	os.Exit(0)
}

func TestWin32ElevateAndRecord(t *testing.T) {
	if !winlocal.UnderWine() {
		t.Skip("would make the current user an administrator; on real Windows the fake-machine tests cover grants")
	}
	user := os.Getenv("USERNAME")
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	sid := tu.User.Sid.String()
	ev := &events{}
	m, err := New(Config{
		StateDir: t.TempDir(), DeviceID: testDevice, Secret: testSecret,
		Clock: clock.Real{}, OnEvent: ev.add, RecordInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	s, err := m.Elevate(ctx, user, elevationtest.Code(t, testSecret, testDevice, user, 5*time.Minute, time.Now()))
	if err != nil {
		t.Fatalf("Elevate(%s): %v", user, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSleep$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=sleep")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })

	find := func(kind EventKind) *Event {
		for _, e := range ev.list() {
			if e.Kind == kind && e.Process != nil && e.Process.PID == cmd.Process.Pid {
				return &e
			}
		}
		return nil
	}
	var started *Event
	waitFor(t, "the start event of the child", func() bool { started = find(EventProcessStart); return started != nil })
	p := started.Process
	if started.SessionID != s.ID || started.User != user || p.SID != sid || p.PPID != os.Getpid() ||
		!strings.EqualFold(filepath.Base(p.Exe), filepath.Base(os.Args[0])) || time.Since(p.StartedAt) > time.Minute || time.Since(p.StartedAt) < 0 {
		t.Errorf("start event %+v process %+v", started, p)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the exit event of the child", func() bool { return find(EventProcessExit) != nil })
	if err := m.Revoke(ctx, user); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if ss, err := m.Sessions(); err != nil || len(ss) != 0 {
		t.Errorf("sessions after Revoke: %v, %v", ss, err)
	}
}
