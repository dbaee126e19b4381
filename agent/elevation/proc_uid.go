package elevation

import (
	"slices"
	"strconv"
	"time"
)

// maxAncestry bounds the walk up the process tree.
const maxAncestry = 64

// procEntry is one process in a Unix snapshot: what is needed to decide
// whether it runs elevated on behalf of a watched user.
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

// procTable reads a Unix process table (proc_linux.go: /proc).
type procTable interface {
	snapshot() (map[int]procEntry, error)
	detail(pid int) (procDetail, error)
}

// uidSource finds the processes that run with euid 0 on behalf of watched
// uids. A process belongs to a user when its loginuid is the user's uid,
// or, when loginuid is unset (no pam_loginuid in the login path), when the
// nearest process up its parent chain whose real uid is not 0 is the
// user's (sudo itself keeps the caller's real uid).
type uidSource struct{ table procTable }

func (s uidSource) elevated(watched map[string]bool) ([]sighting, error) {
	snap, err := s.table.snapshot()
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(snap))
	for pid := range snap {
		pids = append(pids, pid)
	}
	slices.Sort(pids) // parents before most children: a stable event order
	var out []sighting
	for _, pid := range pids {
		p := snap[pid]
		if p.euid != 0 {
			continue
		}
		uid, ok := attribute(p, snap)
		owner := strconv.Itoa(uid)
		if !ok || !watched[owner] {
			continue
		}
		d, err := s.table.detail(pid)
		if err != nil {
			continue // exited meanwhile
		}
		out = append(out, sighting{owner: owner, key: procKey{pid: pid, start: d.start}, proc: Process{
			PID: pid, PPID: p.ppid, UID: p.ruid, EUID: p.euid, LoginUID: p.loginuid,
			Exe: d.exe, Args: d.args, StartedAt: d.startedAt,
		}})
	}
	return out, nil
}

// attribute returns the uid p runs on behalf of, if any.
func attribute(p procEntry, snap map[int]procEntry) (int, bool) {
	if p.loginuid >= 0 {
		return p.loginuid, true
	}
	q := p
	for range maxAncestry {
		if q.ruid != 0 {
			return q.ruid, true
		}
		parent, ok := snap[q.ppid]
		if !ok || q.ppid <= 1 {
			return 0, false
		}
		q = parent
	}
	return 0, false
}
