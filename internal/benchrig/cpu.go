package benchrig

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. The
// kernel fixes it at 100 for user space on every Linux architecture Go
// supports (sysconf(_SC_CLK_TCK) would need cgo to ask).
const clockTicks = 100

// procStat is the part of /proc/PID/stat the rig uses.
type procStat struct {
	ppid int
	cpu  time.Duration // utime + stime
}

// readProcStat parses /proc/PID/stat. The command name (field 2) is in
// parentheses and may hold spaces, so fields are counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("%w: %w", ErrProc, err)
	}
	return parseProcStat(b)
}

func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("%w: stat without command name", ErrProc)
	}
	// After ") ": field 3 state, 4 ppid, ..., 14 utime, 15 stime.
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("%w: stat has %d fields after the name", ErrProc, len(f))
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	ut, err2 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err3 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, fmt.Errorf("%w: malformed stat fields", ErrProc)
	}
	return procStat{ppid: ppid, cpu: time.Duration(ut+st) * time.Second / clockTicks}, nil
}

// treeCPU returns the CPU time (user + system) used so far by pid and all
// its living descendants (Chromium is a tree of processes). Descendants that
// vanish while /proc is walked are skipped.
func treeCPU(pid int) (time.Duration, error) {
	root, err := readProcStat(pid)
	if err != nil {
		return 0, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrProc, err)
	}
	parent := map[int]int{}
	cpu := map[int]time.Duration{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		s, err := readProcStat(p)
		if err != nil {
			continue
		}
		parent[p], cpu[p] = s.ppid, s.cpu
	}
	total := root.cpu
	for p, c := range cpu {
		for q, hops := parent[p], 0; q > 1 && hops < 64; q, hops = parent[q], hops+1 {
			if q == pid {
				total += c
				break
			}
		}
	}
	return total, nil
}

// cpuPercent converts CPU time used over a wall-clock window into percent of
// one core (one core fully busy = 100 %).
func cpuPercent(used, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return 100 * used.Seconds() / wall.Seconds()
}
