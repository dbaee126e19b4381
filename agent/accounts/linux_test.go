//go:build linux

package accounts

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/agent/accounts/accountstest"
	"porthole/internal/clock/clocktest"
)

// testPrefix marks every account these tests create.
const testPrefix = "ph-test-"

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// needRoot skips tests that run the shadow tools (they write the
// throwaway root's files as root and chroot). CI runs them as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating accounts, even in a throwaway root, needs root; run `go test` as root (CI does)")
	}
	for _, tool := range []string{"getent", "id", "unshare", "unix_chkpwd", "useradd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (Debian: passwd, util-linux, libpam-modules-bin, libc-bin, coreutils)", tool)
		}
	}
}

// harness is a real Manager on a throwaway root and a fake clock, with its
// events.
type harness struct {
	m     *Manager
	root  accountstest.Root
	clk   *clocktest.TimerClock
	dir   string
	evs   *eventLog
	evCh  chan Event
	start time.Time
}

func newHarness(t *testing.T, root accountstest.Root, dir string, now time.Time) *harness {
	t.Helper()
	h := &harness{root: root, clk: clocktest.NewTimerClock(now), dir: dir, evs: &eventLog{}, evCh: make(chan Event, 64), start: now}
	m, err := New(Config{
		StateDir: dir,
		Root:     root.Dir,
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

// create makes a test account.
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
	return a
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
	root := accountstest.NewRoot(t)
	h := newHarness(t, root, t.TempDir(), time.Now())
	acct := h.create(t, Spec{ExpiresAt: h.start.Add(2 * time.Hour), Requester: "alice", GrantID: "grant-1"})

	// The account: in passwd with bash and a home it owns.
	f := root.Passwd(t, acct.Username)
	if len(f) != 7 || f[6] != "/bin/bash" || f[5] != "/home/"+acct.Username {
		t.Fatalf("passwd entry %q, want shell /bin/bash and home /home/%s", f, acct.Username)
	}
	uid, _ := strconv.Atoi(f[2])
	if uid < root.UIDMin {
		t.Fatalf("uid %d outside the throwaway root's range", uid)
	}
	home := root.Home(acct.Username)
	fi, err := os.Stat(home)
	if err != nil {
		t.Fatalf("home directory: %v", err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
		t.Fatalf("home owned by uid %d, want %d", st.Uid, uid)
	}
	// An administrator.
	if groups := root.Groups(t, acct.Username); !slices.Contains(groups, "sudo") {
		t.Fatalf("id -nG %s = %q, want sudo among them", acct.Username, groups)
	}
	// The password works, and is not just any password.
	if !root.CheckPassword(t, acct.Username, acct.Password) {
		t.Fatal("unix_chkpwd rejects the generated password")
	}
	if root.CheckPassword(t, acct.Username, acct.Password+"x") {
		t.Fatal("unix_chkpwd accepts a wrong password; the check proves nothing")
	}
	// The OS-level backstop expiry: the day after ExpiresAt.
	sh, code := root.InRoot(t, "", "getent", "shadow", acct.Username)
	if code != 0 {
		t.Fatalf("getent shadow: exit %d: %s", code, sh)
	}
	sf := strings.Split(strings.TrimSpace(sh), ":")
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
	_, userDone := root.StartAs(t, acct.Username)
	rootCmd, rootDone := accountstest.Start(t, exec.Command("sh", "-c", fmt.Sprintf("echo %d > /proc/self/loginuid && exec sleep 301", uid)))
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
	if root.UserExists(t, acct.Username) {
		t.Fatal("user still in passwd after Revoke")
	}
	if _, err := os.Stat(home); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("home directory still there after Revoke: %v", err)
	}
	if out, code := root.InRoot(t, "", "getent", "group", acct.Username); code != 2 {
		t.Fatalf("user's group still there after Revoke: exit %d %s", code, out)
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
	root := accountstest.NewRoot(t)
	h := newHarness(t, root, t.TempDir(), time.Now())
	acct := h.create(t, Spec{ExpiresAt: h.start.Add(time.Hour)})
	if out, err := exec.Command("userdel", "--prefix", root.Dir, "-r", acct.Username).CombinedOutput(); err != nil {
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
	j := newJournal(dir)
	if err := j.Save(&journalFile{Accounts: []*entry{
		{Username: name, GrantID: "g", State: stateIntent, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Username: ghost, GrantID: "g2", State: stateIntent, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	}}); err != nil {
		t.Fatal(err)
	}
	root := accountstest.NewRoot(t)
	if out, err := exec.Command("useradd", "--prefix", root.Dir, "-m", "-G", "sudo", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	// Agent restart: a new Manager on the same state dir, well before expiry.
	h := newHarness(t, root, dir, now)
	mustStatus(t, h, name, StatusExpired) // half-created: due for removal
	if err := h.m.Reconcile(context.Background(), now); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if root.UserExists(t, name) {
		t.Fatal("half-created user survives Reconcile")
	}
	if _, err := os.Stat(root.Home(name)); !errors.Is(err, os.ErrNotExist) {
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
	root := accountstest.NewRoot(t)
	first := newHarness(t, root, dir, start)
	acct := first.create(t, Spec{ExpiresAt: start.Add(time.Hour)})
	first = nil // the agent dies; only the journal remains
	_ = first

	h := newHarness(t, root, dir, start.Add(59*time.Minute))
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if !h.root.UserExists(t, acct.Username) {
		t.Fatal("account removed before its expiry")
	}
	h.clk.Advance(time.Minute)
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if h.root.UserExists(t, acct.Username) {
		t.Fatal("account survives its expiry across a restart")
	}
	if got, want := h.evs.kinds(), []EventKind{EventExpired}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestRealUseWithin(t *testing.T) {
	needRoot(t)
	root := accountstest.NewRoot(t)
	h := newHarness(t, root, t.TempDir(), time.Now())
	spec := Spec{ExpiresAt: h.start.Add(time.Hour), UseWithin: 10 * time.Minute}
	unused := h.create(t, spec)
	used := h.create(t, spec)
	if want := h.start.Add(10 * time.Minute); !unused.UseBy.Equal(want) {
		t.Fatalf("UseBy = %v, want %v", unused.UseBy, want)
	}
	_, done := root.StartAs(t, used.Username)
	waitFor(t, "status active", func() bool {
		st, _ := h.m.Status(context.Background(), used.Username)
		return st == StatusActive
	})
	h.clk.Advance(10*time.Minute - time.Second)
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if !h.root.UserExists(t, unused.Username) {
		t.Fatal("unused account removed before its use-within deadline")
	}
	h.clk.Advance(time.Second)
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if h.root.UserExists(t, unused.Username) {
		t.Fatal("unused account survives its use-within deadline")
	}
	if !h.root.UserExists(t, used.Username) {
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
	if h.root.UserExists(t, used.Username) {
		t.Fatal("used account survives its expiry")
	}
	want := []EventKind{EventCreated, EventCreated, EventUsed, EventUnused, EventExpired}
	if got := h.evs.kinds(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func mustProcsOf(t *testing.T, h *harness, name string) []int {
	t.Helper()
	uid, _ := strconv.Atoi(h.root.Passwd(t, name)[2])
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
	h := newHarness(t, accountstest.NewRoot(t), t.TempDir(), time.Now())
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
	if !h.root.UserExists(t, acct.Username) {
		t.Fatal("Run removed the account early")
	}
	h.clk.Advance(time.Second)
	e := nextEvent(t, h)
	if e.Kind != EventExpired || e.Username != acct.Username {
		t.Fatalf("event %+v, want expired for %s", e, acct.Username)
	}
	if h.root.UserExists(t, acct.Username) {
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
	h := newHarness(t, accountstest.NewRoot(t), t.TempDir(), time.Now())
	acct := h.create(t, Spec{ExpiresAt: h.start.Add(time.Hour), UseWithin: time.Minute})
	// In the root's mount namespace, login finds the account, its home and
	// the root's login records.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := h.root.Command(ctx, "script", "-qec", "login -f "+acct.Username, "/dev/null")
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
	if !h.root.UserExists(t, acct.Username) {
		t.Fatal("an account that was used was removed at its use-within deadline")
	}
	if got, want := h.evs.kinds(), []EventKind{EventCreated, EventUsed}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// randReader is the source tests use to draw names like Create does.
func randReader() io.Reader { return rand.Reader }
