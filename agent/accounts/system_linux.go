package accounts

// Linux tools used (Debian packages): useradd, usermod, userdel, chpasswd
// from "passwd"; loginctl from "systemd" (optional, used only when systemd
// is running). Processes are found and killed by walking /proc, so procps
// is not needed. Password checks in tests use unix_chkpwd from
// "libpam-modules-bin".

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"porthole/internal/exitstatus"
)

// Linux login records read to tell whether an account was ever used.
const (
	lastlogPath = "/var/log/lastlog"
	wtmpPath    = "/var/log/wtmp"
	// ut_type is an int16 at 0 of struct utmp, ut_user a char[32] at 44.
	utmpUserOffset = 44
	utmpUserLen    = 32
	utmpUserProc   = 7 // USER_PROCESS
	// unsetLoginUID is /proc/PID/loginuid of processes outside any login.
	unsetLoginUID = "4294967295"
	// userdel exit statuses (shadow's userdel(8)).
	userdelNoUser     = 6
	userdelHomeFailed = 12
)

// Record sizes of glibc's struct lastlog (ll_time, char ll_line[32], char
// ll_host[256]) and struct utmp. x86-64 and 32-bit ABIs keep 32-bit times in
// them (__WORDSIZE_TIME64_COMPAT32); arm64 and riscv64 use 64-bit times.
var lastlogSize, utmpSize = func() (int64, int) {
	switch runtime.GOARCH {
	case "arm64", "riscv64", "loong64":
		return 296, 400
	}
	return 292, 384
}()

// linuxTools are looked up at New so a missing one fails early.
var linuxTools = []string{"useradd", "usermod", "userdel", "chpasswd"}

// linuxSystem manages accounts with the shadow tools and /proc.
type linuxSystem struct {
	log *slog.Logger
	// root, if not empty, is the directory whose etc/passwd, etc/group,
	// etc/shadow, home and var/log are managed instead of the machine's
	// own (Config.Root). Processes are still found in /proc by uid.
	root        string
	tools       map[string]string // name → path
	lastlogPath string
	wtmpPath    string
	procDir     string
}

func newSystem(log *slog.Logger, root string) (system, error) {
	if root == "/" {
		root = ""
	}
	if root != "" && !filepath.IsAbs(root) {
		return nil, fmt.Errorf("%w: Root %q must be an absolute path", ErrConfig, root)
	}
	s := &linuxSystem{log: log, root: root, tools: map[string]string{},
		lastlogPath: filepath.Join("/", root, lastlogPath), wtmpPath: filepath.Join("/", root, wtmpPath), procDir: "/proc"}
	for _, t := range linuxTools {
		p, err := exec.LookPath(t)
		if err != nil {
			return nil, fmt.Errorf("%w: %s (Debian package passwd)", ErrMissingTool, t)
		}
		s.tools[t] = p
	}
	return s, nil
}

// run runs tool with args, stdin fed from stdin (never logged, never in
// argv). The returned error carries the exit status and stderr.
func (s *linuxSystem) run(ctx context.Context, stdin string, tool string, args ...string) error {
	if s.root != "" {
		// useradd, usermod and userdel edit the files under --prefix;
		// chpasswd has no --prefix in shadow 4.13, so it chroots (-R) and
		// hashes itself (-c: PAM modules cannot load inside the bare root).
		pre := []string{"--prefix", s.root}
		if tool == "chpasswd" {
			pre = []string{"--root", s.root, "--crypt-method", "YESCRYPT"}
		}
		args = append(pre, args...)
	}
	cmd := exec.CommandContext(ctx, s.tools[tool], args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return &cmdError{tool: tool, err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	return nil
}

// cmdError is a failed system command.
type cmdError struct {
	tool   string
	err    error
	stderr string
}

func (e *cmdError) Error() string {
	if e.stderr == "" {
		return fmt.Sprintf("%s: %v", e.tool, e.err)
	}
	return fmt.Sprintf("%s: %v: %s", e.tool, e.err, e.stderr)
}

func (e *cmdError) Unwrap() []error { return []error{ErrSystem, e.err} }

func (s *linuxSystem) exists(_ context.Context, name string) (bool, error) {
	if s.root != "" {
		_, _, found, err := s.lookupUser(name)
		if err != nil || found {
			return found, err
		}
		return s.groupExists(name)
	}
	return userOrGroupExists(name)
}

// adminGroup is "sudo" (Debian, Ubuntu) or "wheel" (Fedora, Arch…).
func (s *linuxSystem) adminGroup(context.Context) (string, error) {
	for _, g := range []string{"sudo", "wheel"} {
		if ok, err := s.groupExists(g); err != nil {
			return "", err
		} else if ok {
			return g, nil
		}
	}
	return "", fmt.Errorf("%w: neither group sudo nor wheel exists", ErrNoAdminGroup)
}

func (s *linuxSystem) create(ctx context.Context, name, password, group string, expires time.Time) error {
	// -e: shadow's account expiry, in whole days; the day after ExpiresAt
	// (UTC), so PAM refuses the account even if the agent never runs again.
	expireDay := expires.UTC().AddDate(0, 0, 1).Format("2006-01-02")
	if err := s.run(ctx, "", "useradd", "-m", "-s", "/bin/bash", "-c", "Porthole break glass",
		"-e", expireDay, "-G", group, name); err != nil {
		return err
	}
	// chpasswd reads "user:password" lines on stdin and hashes with the
	// system's method (PAM on Debian).
	if err := s.run(ctx, name+":"+password+"\n", "chpasswd"); err != nil {
		return err
	}
	return nil
}

func (s *linuxSystem) remove(ctx context.Context, name string) error {
	uid, home, found, err := s.lookupUser(name)
	if err != nil {
		return err
	}
	if !found {
		return nil // already gone
	}
	// Stop new logins first: lock the password and expire the account.
	if err := s.run(ctx, "", "usermod", "-L", "-e", "1", name); err != nil {
		s.log.Warn("lock account", "user", name, "err", err)
	}
	// End logind sessions (kills their whole cgroup, including processes
	// that changed uid through sudo). Only with systemd running, and never
	// for an account of another root: logind knows the machine's users.
	if _, err := os.Stat("/run/systemd/system"); err == nil && s.root == "" {
		if p, err := exec.LookPath("loginctl"); err == nil {
			if out, err := exec.CommandContext(ctx, p, "terminate-user", name).CombinedOutput(); err != nil {
				s.log.Info("loginctl terminate-user", "user", name, "err", err, "output", strings.TrimSpace(string(out)))
			}
		}
	}
	if err := s.killAll(ctx, uid); err != nil {
		return err
	}
	err = s.run(ctx, "", "userdel", "-f", "-r", name)
	switch code := exitstatus.Of(err); {
	case err == nil, code == userdelNoUser:
	case code == userdelHomeFailed:
		s.log.Warn("userdel left the home directory", "user", name, "err", err)
	default:
		return err
	}
	// userdel -r may leave the home (exit 12, or a home not under the
	// default path); remove it if it is still this user's.
	home = filepath.Join("/", s.root, home)
	if fi, err := os.Lstat(home); err == nil && fi.IsDir() && home != "/" && filepath.Base(home) == name {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid {
			if err := os.RemoveAll(home); err != nil {
				return fmt.Errorf("%w: remove home %s: %w", ErrSystem, home, err)
			}
		}
	}
	return nil
}

// lookupUser finds name's uid and home (as recorded, not under root):
// through NSS for the machine's own accounts, from root/etc/passwd for
// another root.
func (s *linuxSystem) lookupUser(name string) (uid int, home string, found bool, err error) {
	if s.root == "" {
		u, err := user.Lookup(name)
		if errors.As(err, new(user.UnknownUserError)) {
			return 0, "", false, nil
		}
		if err != nil {
			return 0, "", false, fmt.Errorf("%w: look up user %s: %w", ErrSystem, name, err)
		}
		uid, err := strconv.Atoi(u.Uid)
		if err != nil {
			return 0, "", false, fmt.Errorf("%w: uid %q of %s", ErrSystem, u.Uid, name)
		}
		return uid, u.HomeDir, true, nil
	}
	f, ok, err := s.dbEntry("passwd", name)
	if err != nil || !ok {
		return 0, "", false, err
	}
	if len(f) < 7 {
		return 0, "", false, fmt.Errorf("%w: bad passwd entry for %s", ErrSystem, name)
	}
	uid, err = strconv.Atoi(f[2])
	if err != nil {
		return 0, "", false, fmt.Errorf("%w: uid %q of %s", ErrSystem, f[2], name)
	}
	return uid, f[5], true, nil
}

// groupExists reports whether group name exists.
func (s *linuxSystem) groupExists(name string) (bool, error) {
	if s.root == "" {
		_, err := user.LookupGroup(name)
		if errors.As(err, new(user.UnknownGroupError)) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%w: look up group %s: %w", ErrSystem, name, err)
		}
		return true, nil
	}
	_, ok, err := s.dbEntry("group", name)
	return ok, err
}

// dbEntry returns the colon-separated fields of name's line in
// root/etc/<db> (passwd or group).
func (s *linuxSystem) dbEntry(db, name string) ([]string, bool, error) {
	b, err := os.ReadFile(filepath.Join(s.root, "etc", db))
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrSystem, err)
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Split(strings.TrimRight(line, "\n"), ":")
		if f[0] == name {
			return f, true, nil
		}
	}
	return nil, false, nil
}

// killAll SIGKILLs, until none is left, every process that runs as uid (real,
// effective, saved or filesystem uid), belongs to a login of uid (audit
// loginuid, kept across sudo and su), or descends from one of those.
func (s *linuxSystem) killAll(ctx context.Context, uid int) error {
	var left []int
	for range killRounds {
		pids, err := s.procsOf(uid)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				s.log.Warn("kill", "pid", pid, "err", err)
			}
		}
		left = pids
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(killPause):
		}
	}
	return fmt.Errorf("%w: processes of uid %d survive SIGKILL: %v", ErrSystem, uid, left)
}

// proc is what procsOf needs to know about one process.
type proc struct {
	pid, ppid int
	zombie    bool
	owned     bool // runs as the uid or belongs to its login
}

// procsOf lists the live processes killAll must kill (zombies are dead
// already and left to their parents).
func (s *linuxSystem) procsOf(uid int) ([]int, error) {
	ents, err := os.ReadDir(s.procDir)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrSystem, s.procDir, err)
	}
	self := os.Getpid()
	want := strconv.Itoa(uid)
	procs := map[int]*proc{}
	for _, de := range ents {
		pid, err := strconv.Atoi(de.Name())
		if err != nil || pid == self {
			continue
		}
		p, err := s.readProc(pid, want)
		if err != nil {
			continue // exited while we looked
		}
		procs[pid] = p
	}
	// A process is condemned if it or an ancestor is owned.
	var out []int
	for _, p := range procs {
		if p.zombie {
			continue
		}
		for q, hops := p, 0; q != nil && hops < 4096; q, hops = procs[q.ppid], hops+1 {
			if q.owned {
				out = append(out, p.pid)
				break
			}
		}
	}
	return out, nil
}

// readProc reads one process's state, parent, uids and loginuid.
func (s *linuxSystem) readProc(pid int, uid string) (*proc, error) {
	dir := filepath.Join(s.procDir, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil, err
	}
	// "pid (comm) state ppid …"; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("bad stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return nil, fmt.Errorf("bad stat")
	}
	p := &proc{pid: pid, zombie: f[0] == "Z" || f[0] == "X"}
	p.ppid, _ = strconv.Atoi(f[1])
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			for _, u := range strings.Fields(rest) {
				if u == uid {
					p.owned = true
				}
			}
			break
		}
	}
	if lu, err := os.ReadFile(filepath.Join(dir, "loginuid")); err == nil {
		if l := strings.TrimSpace(string(lu)); l != unsetLoginUID && l == uid {
			p.owned = true
		}
	}
	return p, nil
}

// usage: active means some process runs as the user or in its login;
// loggedIn means lastlog has a record for its uid (written by login and
// sshd; useradd clears the record of a new uid) or wtmp a USER_PROCESS
// record for its name (written by login, sshd and display managers).
func (s *linuxSystem) usage(_ context.Context, name string) (active, loggedIn bool, err error) {
	uid, _, found, err := s.lookupUser(name)
	if err != nil {
		return false, false, err
	}
	if !found {
		return false, false, fmt.Errorf("%w: no user %s", ErrSystem, name)
	}
	pids, err := s.procsOf(uid)
	if err != nil {
		return false, false, err
	}
	at, err := lastlogTime(s.lastlogPath, uid)
	if err != nil {
		return false, false, err
	}
	inWtmp, err := wtmpHasUser(s.wtmpPath, name)
	if err != nil {
		return false, false, err
	}
	return len(pids) > 0, !at.IsZero() || inWtmp, nil
}

// lastlogTime returns uid's last login from a lastlog file, zero if none.
func lastlogTime(path string, uid int) (time.Time, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", ErrSystem, err)
	}
	defer f.Close()
	var b [4]byte
	if _, err := f.ReadAt(b[:], int64(uid)*lastlogSize); err != nil {
		if errors.Is(err, io.EOF) {
			return time.Time{}, nil // sparse file shorter than this uid
		}
		return time.Time{}, fmt.Errorf("%w: read %s: %w", ErrSystem, path, err)
	}
	sec := int32(binary.NativeEndian.Uint32(b[:]))
	if sec == 0 {
		return time.Time{}, nil
	}
	return time.Unix(int64(sec), 0), nil
}

// wtmpHasUser reports whether a wtmp file has a login record for name.
func wtmpHasUser(path, name string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrSystem, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64*utmpSize)
	rec := make([]byte, utmpSize)
	for {
		if _, err := io.ReadFull(r, rec); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return false, nil
			}
			return false, fmt.Errorf("%w: read %s: %w", ErrSystem, path, err)
		}
		if int16(binary.NativeEndian.Uint16(rec[0:2])) != utmpUserProc {
			continue
		}
		user := rec[utmpUserOffset : utmpUserOffset+utmpUserLen]
		if i := bytes.IndexByte(user, 0); i >= 0 {
			user = user[:i]
		}
		if string(user) == name {
			return true, nil
		}
	}
}
