//go:build linux

package accounts

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/internal/clock/clocktest"
)

// testPrefix marks every account these tests create; TestMain removes any
// left over by a crashed run, before and after.
const testPrefix = "ph-test-"

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		sweepTestUsers()
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if os.Geteuid() == 0 {
			sweepTestUsers()
		}
		os.Exit(code)
	}))
}

// sweepTestUsers deletes every ph-test- user with tools independent of the
// code under test.
func sweepTestUsers() {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, _, _ := strings.Cut(sc.Text(), ":")
		if strings.HasPrefix(name, testPrefix) {
			_ = exec.Command("pkill", "-KILL", "-u", name).Run()
			time.Sleep(50 * time.Millisecond)
			_ = exec.Command("userdel", "-f", "-r", name).Run()
			fmt.Fprintf(os.Stderr, "accounts test: removed leftover user %s\n", name)
		}
	}
}

// needRoot skips tests that create real accounts when not root. CI runs
// them as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating real local accounts needs root; run `go test` as root (CI does)")
	}
	for _, tool := range []string{"getent", "id", "runuser", "unix_chkpwd", "useradd", "pkill"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (Debian: passwd, procps, util-linux, libpam-modules-bin, libc-bin, coreutils)", tool)
		}
	}
}

// harness is a real Manager on a fake clock with its events.
type harness struct {
	m     *Manager
	clk   *clocktest.TimerClock
	dir   string
	evs   *eventLog
	evCh  chan Event
	start time.Time
}

func newHarness(t *testing.T, dir string, now time.Time) *harness {
	t.Helper()
	h := &harness{clk: clocktest.NewTimerClock(now), dir: dir, evs: &eventLog{}, evCh: make(chan Event, 64), start: now}
	m, err := New(Config{
		StateDir: dir,
		Clock:    h.clk,
		Timer:    h.clk,
		OnEvent: func(e Event) {
			h.evs.add(e)
			h.evCh <- e
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	return h
}

// create makes a real test account and makes sure it goes away.
func (h *harness) create(t *testing.T, spec Spec) Account {
	t.Helper()
	spec.Prefix = testPrefix
	if spec.GrantID == "" {
		spec.GrantID = "grant-" + t.Name()
	}
	a, err := h.m.Create(context.Background(), spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { removeUser(a.Username) })
	return a
}

// removeUser deletes a user with tools independent of the code under test.
func removeUser(name string) {
	if _, err := user.Lookup(name); err != nil {
		return
	}
	_ = exec.Command("pkill", "-KILL", "-u", name).Run()
	time.Sleep(50 * time.Millisecond)
	_ = exec.Command("userdel", "-f", "-r", name).Run()
}

// userExists asks getent (NSS), not os/user, so the check is independent.
func userExists(t *testing.T, name string) bool {
	t.Helper()
	err := exec.Command("getent", "passwd", name).Run()
	switch exitCode(err) {
	case 0:
		return true
	case 2:
		return false
	}
	t.Fatalf("getent passwd %s: %v", name, err)
	return false
}

// checkPassword asks PAM's helper unix_chkpwd (what pam_unix itself runs
// to verify a password against /etc/shadow with libcrypt, whatever the
// hash method) whether password is the user's. Exit 0 means it matches.
func checkPassword(t *testing.T, name, password string) bool {
	t.Helper()
	cmd := exec.Command("unix_chkpwd", name, "nonull")
	cmd.Stdin = strings.NewReader(password + "\x00")
	out, err := cmd.CombinedOutput()
	switch exitCode(err) {
	case 0:
		return true
	case 7: // PAM_AUTH_ERR
		return false
	}
	t.Fatalf("unix_chkpwd %s: %v: %s", name, err, out)
	return false
}

// startAs starts sleep as the user with runuser and returns a channel that
// gets its exit.
func startAs(t *testing.T, name string) (*exec.Cmd, <-chan error) {
	t.Helper()
	cmd := exec.Command("runuser", "-u", name, "--", "sleep", "300")
	return startCmd(t, cmd)
}

func startCmd(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, <-chan error) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- cmd.Wait()
		close(finished)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-finished
	})
	return cmd, done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitExit(t *testing.T, what string, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10 s after Revoke", what)
		return nil
	}
}

func mustStatus(t *testing.T, h *harness, name string, want Status) {
	t.Helper()
	got, err := h.m.Status(context.Background(), name)
	if err != nil || got != want {
		t.Fatalf("Status(%s) = %v, %v; want %v", name, got, err, want)
	}
}

func TestRealCreateAndRevoke(t *testing.T) {
	needRoot(t)
	h := newHarness(t, t.TempDir(), time.Now())
	acct := h.create(t, Spec{ExpiresAt: h.start.Add(2 * time.Hour), Requester: "alice", GrantID: "grant-1"})

	// The account: in passwd with bash and a home it owns.
	out, err := exec.Command("getent", "passwd", acct.Username).Output()
	if err != nil {
		t.Fatalf("getent passwd %s: %v", acct.Username, err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), ":")
	if len(f) != 7 || f[6] != "/bin/bash" || f[5] != "/home/"+acct.Username {
		t.Fatalf("passwd entry %q, want shell /bin/bash and home /home/%s", out, acct.Username)
	}
	uid, _ := strconv.Atoi(f[2])
	fi, err := os.Stat(f[5])
	if err != nil {
		t.Fatalf("home directory: %v", err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
		t.Fatalf("home owned by uid %d, want %d", st.Uid, uid)
	}
	// An administrator.
	groups, err := exec.Command("id", "-nG", acct.Username).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(string(groups)), "sudo") {
		t.Fatalf("id -nG %s = %q, want sudo among them", acct.Username, groups)
	}
	// The password works, and is not just any password.
	if !checkPassword(t, acct.Username, acct.Password) {
		t.Fatal("unix_chkpwd rejects the generated password")
	}
	if checkPassword(t, acct.Username, acct.Password+"x") {
		t.Fatal("unix_chkpwd accepts a wrong password; the check proves nothing")
	}
	// The OS-level backstop expiry: the day after ExpiresAt.
	sh, err := exec.Command("getent", "shadow", acct.Username).Output()
	if err != nil {
		t.Fatal(err)
	}
	sf := strings.Split(strings.TrimSpace(string(sh)), ":")
	wantDay := acct.ExpiresAt.UTC().Truncate(24*time.Hour).Unix()/86400 + 1
	if len(sf) < 8 || sf[7] != strconv.FormatInt(wantDay, 10) {
		t.Fatalf("shadow expire field %q, want %d", sf, wantDay)
	}
	// The journal: 0600, knows the account, never holds the password.
	jb, err := os.ReadFile(h.m.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	if jfi, _ := os.Stat(h.m.JournalPath()); jfi.Mode().Perm() != 0o600 {
		t.Fatalf("journal mode %v, want 0600", jfi.Mode().Perm())
	}
	if !bytes.Contains(jb, []byte(acct.Username)) || bytes.Contains(jb, []byte(acct.Password)) {
		t.Fatalf("journal must name the account and not hold its password:\n%s", jb)
	}
	mustStatus(t, h, acct.Username, StatusPending)

	// Someone uses it: a process as the user, and a root process in its
	// login (what `sudo -s` leaves: uid 0, loginuid kept by the audit
	// subsystem).
	userCmd, userDone := startAs(t, acct.Username)
	_ = userCmd
	rootCmd, rootDone := startCmd(t, exec.Command("sh", "-c", fmt.Sprintf("echo %d > /proc/self/loginuid && exec sleep 301", uid)))
	waitFor(t, "the root process to take the loginuid", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/loginuid", rootCmd.Process.Pid))
		return strings.TrimSpace(string(b)) == strconv.Itoa(uid)
	})
	waitFor(t, "status active", func() bool {
		st, _ := h.m.Status(context.Background(), acct.Username)
		return st == StatusActive
	})

	start := time.Now()
	if err := h.m.Revoke(context.Background(), acct.Username); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	revokeTook := time.Since(start)
	waitExit(t, "the user's process", userDone)
	rootErr := waitExit(t, "the root process of the user's login", rootDone)
	if ws, ok := rootCmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("root process ended with %v, want SIGKILL", rootErr)
	}
	if userExists(t, acct.Username) {
		t.Fatal("user still in passwd after Revoke")
	}
	if _, err := os.Stat(f[5]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("home directory still there after Revoke: %v", err)
	}
	if err := exec.Command("getent", "group", acct.Username).Run(); exitCode(err) != 2 {
		t.Fatalf("user's group still there after Revoke: %v", err)
	}
	mustStatus(t, h, acct.Username, StatusRemoved)
	if err := h.m.Revoke(context.Background(), acct.Username); err != nil {
		t.Fatalf("second Revoke = %v, want nil (already gone)", err)
	}
	want := []EventKind{EventCreated, EventUsed, EventRevoked}
	if got := h.evs.kinds(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for _, e := range h.evs.ev {
		if e.Username != acct.Username || e.GrantID != "grant-1" || e.Requester != "alice" {
			t.Fatalf("event %+v does not identify the account and grant", e)
		}
		if strings.Contains(fmt.Sprintf("%+v", e), acct.Password) {
			t.Fatal("an event carries the password")
		}
	}
	t.Logf("Revoke with 2 live processes took %v", revokeTook)
}

func TestRealRevokeToleratesUserDeletedBehindItsBack(t *testing.T) {
	needRoot(t)
	h := newHarness(t, t.TempDir(), time.Now())
	acct := h.create(t, Spec{ExpiresAt: h.start.Add(time.Hour)})
	if out, err := exec.Command("userdel", "-r", acct.Username).CombinedOutput(); err != nil {
		t.Fatalf("userdel: %v: %s", err, out)
	}
	mustStatus(t, h, acct.Username, StatusRemoved)
	if err := h.m.Revoke(context.Background(), acct.Username); err != nil {
		t.Fatalf("Revoke of a vanished user = %v, want nil", err)
	}
}

func TestRealCrashBetweenIntentAndCreate(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	now := time.Now()
	// What a crash inside Create leaves: an intent entry, and a user that
	// useradd made but that never got its password or "created" state.
	name, err := randomName(randReader(), testPrefix)
	if err != nil {
		t.Fatal(err)
	}
	ghost, err := randomName(randReader(), testPrefix) // crash before useradd
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeUser(name) })
	j := journal{path: filepath.Join(dir, JournalFile)}
	if err := j.save([]*entry{
		{Username: name, GrantID: "g", State: stateIntent, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Username: ghost, GrantID: "g2", State: stateIntent, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("useradd", "-m", "-G", "sudo", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	// Agent restart: a new Manager on the same state dir, well before expiry.
	h := newHarness(t, dir, now)
	mustStatus(t, h, name, StatusExpired) // half-created: due for removal
	if err := h.m.Reconcile(context.Background(), now); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if userExists(t, name) {
		t.Fatal("half-created user survives Reconcile")
	}
	if _, err := os.Stat("/home/" + name); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("half-created user's home survives: %v", err)
	}
	mustStatus(t, h, name, StatusRemoved)
	mustStatus(t, h, ghost, StatusRemoved)
	if got, want := h.evs.kinds(), []EventKind{EventRecovered, EventRecovered}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestRealExpiryAcrossRestart(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	start := time.Now()
	first := newHarness(t, dir, start)
	acct := first.create(t, Spec{ExpiresAt: start.Add(time.Hour)})
	first = nil // the agent dies; only the journal remains
	_ = first

	h := newHarness(t, dir, start.Add(59*time.Minute))
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if !userExists(t, acct.Username) {
		t.Fatal("account removed before its expiry")
	}
	h.clk.Advance(time.Minute)
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if userExists(t, acct.Username) {
		t.Fatal("account survives its expiry across a restart")
	}
	if got, want := h.evs.kinds(), []EventKind{EventExpired}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestRealUseWithin(t *testing.T) {
	needRoot(t)
	h := newHarness(t, t.TempDir(), time.Now())
	spec := Spec{ExpiresAt: h.start.Add(time.Hour), UseWithin: 10 * time.Minute}
	unused := h.create(t, spec)
	used := h.create(t, spec)
	if want := h.start.Add(10 * time.Minute); !unused.UseBy.Equal(want) {
		t.Fatalf("UseBy = %v, want %v", unused.UseBy, want)
	}
	_, done := startAs(t, used.Username)
	waitFor(t, "status active", func() bool {
		st, _ := h.m.Status(context.Background(), used.Username)
		return st == StatusActive
	})
	h.clk.Advance(10*time.Minute - time.Second)
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if !userExists(t, unused.Username) {
		t.Fatal("unused account removed before its use-within deadline")
	}
	h.clk.Advance(time.Second)
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if userExists(t, unused.Username) {
		t.Fatal("unused account survives its use-within deadline")
	}
	if !userExists(t, used.Username) {
		t.Fatal("used account removed at the use-within deadline")
	}
	// It logs off (process ends): used, not active, kept until expiry.
	for _, p := range mustProcsOf(t, h, used.Username) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	<-done
	waitFor(t, "status used", func() bool {
		st, _ := h.m.Status(context.Background(), used.Username)
		return st == StatusUsed
	})
	h.clk.Advance(50 * time.Minute)
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if userExists(t, used.Username) {
		t.Fatal("used account survives its expiry")
	}
	want := []EventKind{EventCreated, EventCreated, EventUsed, EventUnused, EventExpired}
	if got := h.evs.kinds(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func mustProcsOf(t *testing.T, h *harness, name string) []int {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	pids, err := h.m.sys.(*linuxSystem).procsOf(uid)
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// nextEvent waits for an event from the Manager's callback.
func nextEvent(t *testing.T, h *harness) Event {
	t.Helper()
	select {
	case e := <-h.evCh:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
		return Event{}
	}
}

func TestRealRunRemovesOnTimeOffline(t *testing.T) {
	needRoot(t)
	h := newHarness(t, t.TempDir(), time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- h.m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run = %v, want nil on cancel", err)
		}
	})
	// Run is asleep on its poll timer with an empty journal.
	if err := h.clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	acct := h.create(t, Spec{ExpiresAt: h.start.Add(5 * time.Minute)})
	if e := nextEvent(t, h); e.Kind != EventCreated {
		t.Fatalf("event %v, want created", e.Kind)
	}
	// Create wakes Run, which now sleeps until the expiry (a second timer).
	if err := h.clk.BlockUntil(ctx, 2); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(5*time.Minute - time.Second)
	if err := h.clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if !userExists(t, acct.Username) {
		t.Fatal("Run removed the account early")
	}
	h.clk.Advance(time.Second)
	e := nextEvent(t, h)
	if e.Kind != EventExpired || e.Username != acct.Username {
		t.Fatalf("event %+v, want expired for %s", e, acct.Username)
	}
	if userExists(t, acct.Username) {
		t.Fatal("account still exists after Run reported its expiry")
	}
}

func TestLoginRecords(t *testing.T) {
	dir := t.TempDir()
	// lastlog: uid 1001 logged in, uid 1002 has a zero record, 5000 is
	// past the end of the file.
	ll := make([]byte, 1003*lastlogSize)
	binary.NativeEndian.PutUint32(ll[1001*lastlogSize:], uint32(1_900_000_000))
	llPath := filepath.Join(dir, "lastlog")
	if err := os.WriteFile(llPath, ll, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		uid  int
		want time.Time
	}{
		{1001, time.Unix(1_900_000_000, 0)},
		{1002, time.Time{}},
		{5000, time.Time{}},
	}
	for _, tt := range tests {
		got, err := lastlogTime(llPath, tt.uid)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("lastlogTime(uid %d) = %v, %v; want %v", tt.uid, got, err, tt.want)
		}
	}
	// wtmp: a DEAD_PROCESS record for bob, a USER_PROCESS record for alice.
	rec := func(typ int16, name string) []byte {
		r := make([]byte, utmpSize)
		binary.NativeEndian.PutUint16(r, uint16(typ))
		copy(r[utmpUserOffset:], name)
		return r
	}
	wtmp := slices.Concat(rec(8, "bob"), rec(utmpUserProc, "alice"))
	wPath := filepath.Join(dir, "wtmp")
	if err := os.WriteFile(wPath, wtmp, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"alice": true, "bob": false, "ali": false, "carol": false} {
		got, err := wtmpHasUser(wPath, name)
		if err != nil || got != want {
			t.Errorf("wtmpHasUser(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if got, err := wtmpHasUser(filepath.Join(dir, "missing"), "alice"); err != nil || got {
		t.Errorf("missing wtmp = %v, %v; want false, nil", got, err)
	}
}

// TestRealLoginMarksUsed logs in for real (login(1) on a pty from
// script(1); login writes wtmp and pam_lastlog writes lastlog), logs out,
// and only then asks: the account must be "used" from the login records
// alone, since no process of it is left to see.
func TestRealLoginMarksUsed(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"script", "login"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (Debian: bsdutils, login)", tool)
		}
	}
	h := newHarness(t, t.TempDir(), time.Now())
	acct := h.create(t, Spec{ExpiresAt: h.start.Add(time.Hour), UseWithin: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-qec", "login -f "+acct.Username, "/dev/null")
	cmd.Stdin = strings.NewReader("id -un; exit\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), acct.Username) {
		t.Fatalf("login session: %v\n%s", err, out)
	}
	waitFor(t, "the session's processes to end", func() bool { return len(mustProcsOf(t, h, acct.Username)) == 0 })
	mustStatus(t, h, acct.Username, StatusUsed)
	// Used in time: the use-within deadline no longer applies.
	h.clk.Advance(2 * time.Minute)
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if !userExists(t, acct.Username) {
		t.Fatal("an account that was used was removed at its use-within deadline")
	}
	if got, want := h.evs.kinds(), []EventKind{EventCreated, EventUsed}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// randReader is the source tests use to draw names like Create does.
func randReader() io.Reader { return rand.Reader }
