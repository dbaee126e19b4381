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
)

// procSource finds the processes that run elevated on behalf of watched
// users: uidSource over /proc on Linux (proc_uid.go), tokenSource over
// process tokens on Windows (proc_token.go).
type procSource interface {
	// elevated returns those processes, in PID order, for the owners in
	// watched (uids on Linux, SIDs on Windows, as system.lookup gives
	// them). Processes that exit while it looks are left out.
	elevated(watched map[string]bool) ([]sighting, error)
}

// sighting is one elevated process found by a procSource.
type sighting struct {
	// owner is the watched uid or SID it runs on behalf of.
	owner string
	key   procKey
	// proc is what is recorded, Args not yet redacted.
	proc Process
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

// recorder reports the processes that run elevated on behalf of watched
// users (which processes those are is the procSource's business): a start
// event when one is first seen, an exec event when its program or
// arguments change, an exit event when it is gone.
type recorder struct {
	cfg recorderConfig

	mu      sync.Mutex
	watches map[string]*watchEntry      // guarded by mu; by session id
	tracked map[procKey]*trackedProcess // guarded by mu
}

type watchEntry struct {
	session, user string
	// owner is the user's uid (Linux) or SID (Windows).
	owner string
	// draining: the grant ended; processes already elevated may still
	// start children as root, so they are followed until none is left.
	draining bool
}

// procKey identifies a process: its PID with its start time (kernel ticks
// on Linux, FILETIME on Windows), so a reused PID is another process.
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

// watch starts recording for a session; repeated calls are no-ops. owner
// is the user's uid or SID, as system.lookup returned it.
func (r *recorder) watch(session, user, owner string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.watches[session]; ok {
		w.draining = false
		return
	}
	r.watches[session] = &watchEntry{session: session, user: user, owner: owner}
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
	owners := map[string]*watchEntry{}
	for _, w := range r.watches {
		if cur, ok := owners[w.owner]; !ok || (cur.draining && !w.draining) {
			owners[w.owner] = w
		}
	}
	watched := make(map[string]bool, len(owners))
	for o := range owners {
		watched[o] = true
	}
	found, err := r.cfg.src.elevated(watched)
	if err != nil {
		r.cfg.log.Warn("read process table", "err", err)
		return nil
	}
	now := r.cfg.clock.Now()
	var events []Event
	seen := map[procKey]bool{}
	for _, f := range found {
		w := owners[f.owner]
		if w == nil {
			continue
		}
		seen[f.key] = true
		proc := f.proc
		proc.Args = r.redact(proc.Args)
		t, ok := r.tracked[f.key]
		if !ok {
			r.tracked[f.key] = &trackedProcess{session: w.session, user: w.user, proc: proc}
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
