package elevation

import (
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"porthole/internal/clock/clocktest"
)

// tableSource is a process table the test edits between polls.
type tableSource struct {
	procs   map[int]procEntry
	details map[int]procDetail
}

func (s *tableSource) snapshot() (map[int]procEntry, error) {
	out := map[int]procEntry{}
	for k, v := range s.procs {
		out[k] = v
	}
	return out, nil
}

func (s *tableSource) detail(pid int) (procDetail, error) {
	d, ok := s.details[pid]
	if !ok {
		return procDetail{}, errors.New("gone")
	}
	return d, nil
}

func (s *tableSource) add(p procEntry, d procDetail) {
	s.procs[p.pid] = p
	s.details[p.pid] = d
}

func (s *tableSource) remove(pid int) {
	delete(s.procs, pid)
	delete(s.details, pid)
}

func newTestRecorder(src procSource) (*recorder, *[]Event) {
	var got []Event
	r := newRecorder(recorderConfig{
		src:         src,
		clock:       clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		interval:    time.Second,
		pattern:     regexp.MustCompile(DefaultSecretPattern),
		replacement: DefaultSecretReplacement,
		emit:        func(ev Event) { got = append(got, ev) },
		log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return r, &got
}

type seen struct {
	Kind    EventKind
	Session string
	PID     int
	Exe     string
}

func summary(evs []Event) []seen {
	var out []seen
	for _, ev := range evs {
		out = append(out, seen{ev.Kind, ev.SessionID, ev.Process.PID, ev.Process.Exe})
	}
	return out
}

func TestRecorderAttribution(t *testing.T) {
	const alice, bob = 1001, 1002
	src := &tableSource{procs: map[int]procEntry{}, details: map[int]procDetail{}}
	root := func(pid, ppid, loginuid int) procEntry {
		return procEntry{pid: pid, ppid: ppid, ruid: 0, euid: 0, loginuid: loginuid}
	}
	src.add(root(1, 0, -1), procDetail{exe: "/sbin/init", start: 1})
	src.add(procEntry{pid: 10, ppid: 1, ruid: alice, euid: alice, loginuid: -1}, procDetail{exe: "/bin/bash", start: 10})
	// sudo keeps alice's real uid; its child is all root.
	src.add(procEntry{pid: 11, ppid: 10, ruid: alice, euid: 0, loginuid: -1}, procDetail{exe: "/usr/bin/sudo", start: 11})
	src.add(root(12, 11, -1), procDetail{exe: "/usr/bin/apt", args: []string{"apt", "install", "x", "--token=abc", "password=hunter2"}, start: 12})
	// loginuid says alice, whatever the tree says.
	src.add(root(20, 1, alice), procDetail{exe: "/usr/bin/id", start: 20})
	// loginuid says bob: not alice's, even under alice's shell.
	src.add(root(21, 10, bob), procDetail{exe: "/usr/bin/true", start: 21})
	// A root daemon and an unprivileged alice process: not recorded.
	src.add(root(30, 1, -1), procDetail{exe: "/usr/sbin/cron", start: 30})
	src.add(procEntry{pid: 31, ppid: 10, ruid: alice, euid: alice, loginuid: alice}, procDetail{exe: "/bin/ls", start: 31})

	r, got := newTestRecorder(uidSource{src})
	r.poll()
	if len(*got) != 0 {
		t.Fatalf("events without a watch: %+v", *got)
	}
	r.watch("S1", "alice", "1001")
	r.poll()
	want := []seen{
		{EventProcessStart, "S1", 11, "/usr/bin/sudo"},
		{EventProcessStart, "S1", 12, "/usr/bin/apt"},
		{EventProcessStart, "S1", 20, "/usr/bin/id"},
	}
	if d := cmp.Diff(want, summary(*got)); d != "" {
		t.Fatalf("first poll (-want +got):\n%s", d)
	}
	apt := (*got)[1]
	if d := cmp.Diff([]string{"apt", "install", "x", "--token=[REDACTED]", "password=[REDACTED]"}, apt.Process.Args); d != "" {
		t.Errorf("redaction (-want +got):\n%s", d)
	}
	if apt.User != "alice" || apt.Process.PPID != 11 || apt.Process.LoginUID != -1 {
		t.Errorf("apt event %+v", apt.Process)
	}

	// Nothing changed: no events. Then: 12 exits, 20 execs, a pid is
	// reused with a new start time.
	*got = nil
	r.poll()
	if len(*got) != 0 {
		t.Fatalf("steady state produced %+v", *got)
	}
	src.remove(12)
	src.details[20] = procDetail{exe: "/usr/bin/whoami", start: 20}
	src.details[11] = procDetail{exe: "/usr/bin/sudo", start: 99}
	r.poll()
	want = []seen{
		{EventProcessStart, "S1", 11, "/usr/bin/sudo"},
		{EventProcessExec, "S1", 20, "/usr/bin/whoami"},
	}
	gotS := summary(*got)
	// Exits come after starts and execs, in map order: check them apart.
	var exits []int
	var rest []seen
	for _, s := range gotS {
		if s.Kind == EventProcessExit {
			exits = append(exits, s.PID)
		} else {
			rest = append(rest, s)
		}
	}
	if d := cmp.Diff(want, rest); d != "" {
		t.Errorf("second poll (-want +got):\n%s", d)
	}
	if len(exits) != 2 || !(exits[0] == 11 && exits[1] == 12 || exits[0] == 12 && exits[1] == 11) {
		t.Errorf("exits %v, want 11 (old start) and 12", exits)
	}

	// Grant ends: processes still running are followed (and their new
	// children recorded) until none is left, then the watch goes.
	r.unwatch("S1")
	*got = nil
	src.add(root(40, 20, alice), procDetail{exe: "/bin/sh", start: 40})
	r.poll()
	if d := cmp.Diff([]seen{{EventProcessStart, "S1", 40, "/bin/sh"}}, summary(*got)); d != "" {
		t.Errorf("draining poll (-want +got):\n%s", d)
	}
	src.remove(11)
	src.remove(20)
	src.remove(40)
	r.poll()
	if len(r.watches) != 0 || len(r.tracked) != 0 {
		t.Errorf("after drain: watches %d tracked %d", len(r.watches), len(r.tracked))
	}
	src.add(root(50, 1, alice), procDetail{exe: "/bin/sh", start: 50})
	*got = nil
	r.poll()
	if len(*got) != 0 {
		t.Errorf("recorded after the session drained: %+v", *got)
	}
}

func TestRedactBounds(t *testing.T) {
	r, _ := newTestRecorder(nil)
	args := make([]string, maxArgs+3)
	for i := range args {
		args[i] = "a"
	}
	args[0] = strings.Repeat("é", maxArgLen)
	out := r.redact(args)
	if len(out) != maxArgs+1 || out[maxArgs] != "…(3 more)" {
		t.Errorf("args not bounded: %d, last %q", len(out), out[len(out)-1])
	}
	if len(out[0]) > maxArgLen+len("…") || !strings.HasSuffix(out[0], "…") || !strings.HasPrefix(out[0], "éé") {
		t.Errorf("long arg %d bytes: %q…", len(out[0]), out[0][:8])
	}
	if got := r.redact([]string{"PASSWORD=x y", "secret=s3", "keep=1"}); !cmp.Equal(got, []string{"PASSWORD=[REDACTED] y", "secret=[REDACTED]", "keep=1"}) {
		t.Errorf("redact = %q", got)
	}
}
