//go:build linux

package elevation

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc/PID/stat start times (USER_HZ, 100 on every
// Linux architecture Go supports; sysconf is not reachable without cgo).
const userHZ = 100

// procFS reads /proc.
type procFS struct {
	root  string
	btime time.Time // boot time, for start times
}

func newProcSource() (procSource, error) {
	p := &procFS{root: "/proc"}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "btime "); ok {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					p.btime = time.Unix(n, 0)
				}
			}
		}
	}
	return uidSource{table: p}, nil
}

// snapshot reads the status of every process. Processes that exit while it
// reads are skipped.
func (p *procFS) snapshot() (map[int]procEntry, error) {
	d, err := os.Open(p.root)
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	out := make(map[int]procEntry, len(names))
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue
		}
		e, err := p.status(pid)
		if err != nil {
			continue
		}
		out[pid] = e
	}
	if len(out) == 0 {
		return nil, errors.New("no processes readable in /proc")
	}
	return out, nil
}

// status parses /proc/PID/status (PPid, Uid) and, for euid 0, loginuid.
func (p *procFS) status(pid int) (procEntry, error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/status", p.root, pid))
	if err != nil {
		return procEntry{}, err
	}
	e := procEntry{pid: pid, ruid: -1, euid: -1, loginuid: -1}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			e.ppid, _ = strconv.Atoi(strings.TrimSpace(v))
		} else if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(v)
			if len(f) >= 2 {
				e.ruid, _ = strconv.Atoi(f[0])
				e.euid, _ = strconv.Atoi(f[1])
			}
		}
	}
	if e.ruid < 0 || e.euid < 0 {
		return procEntry{}, fmt.Errorf("pid %d: no Uid line", pid)
	}
	if e.euid == 0 {
		if l, err := os.ReadFile(fmt.Sprintf("%s/%d/loginuid", p.root, pid)); err == nil {
			// 4294967295 ((uid_t)-1) means unset.
			if n, err := strconv.ParseUint(strings.TrimSpace(string(l)), 10, 32); err == nil && n != 1<<32-1 {
				e.loginuid = int(n)
			}
		}
	}
	return e, nil
}

// detail reads start time, executable and command line.
func (p *procFS) detail(pid int) (procDetail, error) {
	dir := fmt.Sprintf("%s/%d", p.root, pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procDetail{}, err
	}
	// The command name in parentheses may contain anything; fields
	// follow the last ')'. starttime is field 22, the 20th after it.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procDetail{}, fmt.Errorf("pid %d: malformed stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return procDetail{}, fmt.Errorf("pid %d: short stat", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procDetail{}, fmt.Errorf("pid %d: starttime: %w", pid, err)
	}
	d := procDetail{start: start}
	if !p.btime.IsZero() {
		d.startedAt = p.btime.Add(time.Duration(start) * time.Second / userHZ)
	}
	exe, err := os.Readlink(dir + "/exe")
	if err == nil {
		d.exe = strings.TrimSuffix(exe, " (deleted)")
	}
	cmd, err := os.ReadFile(dir + "/cmdline")
	if err == nil {
		cmd = bytes.TrimSuffix(cmd, []byte{0})
		if len(cmd) > 0 {
			d.args = strings.Split(string(cmd), "\x00")
		}
	}
	return d, nil
}
