package elevation

import (
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"porthole/internal/clock"
)

// Limits on what a process record carries.
const (
	maxArgLen = 256
	maxArgs   = 64
	// maxAncestry bounds the walk up the process tree.
	maxAncestry = 64
)

// procEntry is one process in a snapshot: what is needed to decide whether
// it runs elevated on behalf of a watched user.
type procEntry struct {
	pid, ppid  int
	ruid, euid int
	// loginuid is the audit login uid, -1 when unset (or not read: it is
	// only read for euid 0).
	loginuid int
}

// procDetail is what is recorded about an attributed process.
type procDetail struct {
	exe       string
	args      []string
	start     uint64 // kernel start time in ticks: with pid, a unique key
	startedAt time.Time
}

// procSource reads the process table: the elevated-process watcher of one
// OS (proc_GOOS.go, whose newProcSource() (procSource, error) builds it).
type procSource interface {
	snapshot() (map[int]procEntry, error)
	detail(pid int) (procDetail, error)
}

type recorderConfig struct {
	src         procSource
	clock       clock.Clock
	interval    time.Duration
	pattern     *regexp.Regexp
	replacement string
	emit        func(Event)
	log         *slog.Logger
}

// recorder reports processes that run with euid 0 on behalf of watched
// users. A process belongs to a user when its loginuid is the user's uid,
// or, when loginuid is unset (no pam_loginuid in the login path), when the
// nearest process up its parent chain whose real uid is not 0 is the user's
// (sudo itself keeps the caller's real uid).
type recorder struct {
	cfg recorderConfig

	mu      sync.Mutex
	watches map[string]*watchEntry      // guarded by mu; by session id
	tracked map[procKey]*trackedProcess // guarded by mu
}

type watchEntry struct {
	session, user string
	uid           int
	// draining: the grant ended; processes already elevated may still
	// start children as root, so they are followed until none is left.
	draining bool
}

type procKey struct {
	pid   int
	start uint64
}

type trackedProcess struct {
	session, user string
	proc          Process
}

func newRecorder(cfg recorderConfig) *recorder {
	return &recorder{cfg: cfg, watches: map[string]*watchEntry{}, tracked: map[procKey]*trackedProcess{}}
}

// watch starts recording for a session; repeated calls are no-ops. uid is
// the user's numeric uid (other platforms: ignored).
func (r *recorder) watch(session, user, uid string) {
	n, err := strconv.Atoi(uid)
	if err != nil {
		return // not a numeric uid: a platform without /proc recording
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.watches[session]; ok {
		w.draining = false
		return
	}
	r.watches[session] = &watchEntry{session: session, user: user, uid: n}
}

// unwatch ends a session's watch once its elevated processes are gone.
func (r *recorder) unwatch(session string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.watches[session]; ok {
		w.draining = true
	}
}

// run polls every interval until ctx ends.
func (r *recorder) run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.interval)
	defer t.Stop()
	for {
		r.poll()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// poll takes one snapshot and reports what changed.
func (r *recorder) poll() {
	r.mu.Lock()
	events := r.pollLocked()
	r.mu.Unlock()
	for _, ev := range events {
		r.cfg.emit(ev)
	}
}

func (r *recorder) pollLocked() []Event {
	if len(r.watches) == 0 && len(r.tracked) == 0 {
		return nil
	}
	snap, err := r.cfg.src.snapshot()
	if err != nil {
		r.cfg.log.Warn("read process table", "err", err)
		return nil
	}
	byUID := map[int]*watchEntry{}
	for _, w := range r.watches {
		if cur, ok := byUID[w.uid]; !ok || (cur.draining && !w.draining) {
			byUID[w.uid] = w
		}
	}
	now := r.cfg.clock.Now()
	var events []Event
	seen := map[procKey]bool{}
	pids := make([]int, 0, len(snap))
	for pid := range snap {
		pids = append(pids, pid)
	}
	slices.Sort(pids) // parents before most children: a stable event order
	for _, pid := range pids {
		p := snap[pid]
		if p.euid != 0 {
			continue
		}
		w := attribute(p, snap, byUID)
		if w == nil {
			continue
		}
		d, err := r.cfg.src.detail(pid)
		if err != nil {
			continue // exited meanwhile
		}
		key := procKey{pid: pid, start: d.start}
		seen[key] = true
		proc := Process{
			PID: pid, PPID: p.ppid, UID: p.ruid, EUID: p.euid, LoginUID: p.loginuid,
			Exe: d.exe, Args: r.redact(d.args), StartedAt: d.startedAt,
		}
		t, ok := r.tracked[key]
		if !ok {
			r.tracked[key] = &trackedProcess{session: w.session, user: w.user, proc: proc}
			events = append(events, processEvent(EventProcessStart, w.session, w.user, now, proc))
			continue
		}
		if t.proc.Exe != proc.Exe || !slices.Equal(t.proc.Args, proc.Args) {
			t.proc = proc
			events = append(events, processEvent(EventProcessExec, t.session, t.user, now, proc))
		}
	}
	for key, t := range r.tracked {
		if !seen[key] {
			delete(r.tracked, key)
			events = append(events, processEvent(EventProcessExit, t.session, t.user, now, t.proc))
		}
	}
	for id, w := range r.watches {
		if !w.draining {
			continue
		}
		alive := false
		for _, t := range r.tracked {
			if t.session == id {
				alive = true
				break
			}
		}
		if !alive {
			delete(r.watches, id)
		}
	}
	return events
}

// attribute returns the watch p runs on behalf of, or nil.
func attribute(p procEntry, snap map[int]procEntry, byUID map[int]*watchEntry) *watchEntry {
	if p.loginuid >= 0 {
		return byUID[p.loginuid]
	}
	q := p
	for range maxAncestry {
		if q.ruid != 0 {
			return byUID[q.ruid]
		}
		parent, ok := snap[q.ppid]
		if !ok || q.ppid <= 1 {
			return nil
		}
		q = parent
	}
	return nil
}

// redact applies the secret pattern to every argument and bounds their
// size; the result never aliases args.
func (r *recorder) redact(args []string) []string {
	out := make([]string, 0, min(len(args), maxArgs+1))
	for i, a := range args {
		if i == maxArgs {
			out = append(out, "…("+strconv.Itoa(len(args)-maxArgs)+" more)")
			break
		}
		a = r.cfg.pattern.ReplaceAllString(a, r.cfg.replacement)
		if len(a) > maxArgLen {
			cut := maxArgLen
			for cut > 0 && !utf8.RuneStart(a[cut]) {
				cut--
			}
			a = a[:cut] + "…"
		}
		out = append(out, a)
	}
	return out
}

func processEvent(kind EventKind, session, user string, at time.Time, p Process) Event {
	p.Args = slices.Clone(p.Args)
	return Event{Kind: kind, SessionID: session, User: user, At: at, Process: &p}
}
