//go:build linux

package elevation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/agent/elevation/elevationtest"
	"porthole/internal/clock/clocktest"
	"porthole/internal/elevcode"
	"porthole/internal/sandbox"
)

const sudoersDir = "/etc/sudoers.d"

func TestMain(m *testing.M) {
	sweep := func() {
		if os.Geteuid() != 0 {
			return
		}
		elevationtest.SweepUsers()
		matches, _ := filepath.Glob(filepath.Join(sudoersDir, DropInPrefix+elevationtest.UserPrefix+"*"))
		for _, f := range matches {
			os.Remove(f)
		}
	}
	// Users and drop-ins are made in a throwaway /etc: this machine's real
	// accounts and sudoers are never touched.
	os.Exit(sandbox.Main(func() int {
		sweep()
		code := m.Run()
		sweep()
		if code == 0 {
			if err := goleak.Find(); err != nil {
				fmt.Fprintln(os.Stderr, "goleak:", err)
				return 1
			}
		}
		return code
	}))
}

type harness struct {
	m   *Manager
	dir string
	clk *clocktest.TimerClock
	ev  *events
}

// newHarness makes a Manager over dir (a fresh temp dir when "").
func newHarness(t *testing.T, dir string, clk *clocktest.TimerClock) *harness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if clk == nil {
		clk = clocktest.NewTimerClock(start)
	}
	ev := &events{}
	m, err := New(Config{
		StateDir: dir, DeviceID: testDevice, Secret: testSecret,
		Clock: clk, Timer: clk, OnEvent: ev.add,
		RecordInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{m: m, dir: dir, clk: clk, ev: ev}
}

// testUser makes a throwaway user whose drop-in is removed at cleanup.
func testUser(t *testing.T) (string, string) {
	t.Helper()
	name, uid := elevationtest.User(t)
	t.Cleanup(func() { os.Remove(filepath.Join(sudoersDir, DropInName(name))) })
	return name, uid
}

func sudoList(t *testing.T, user string) string {
	t.Helper()
	out, _ := exec.Command("sudo", "-l", "-U", user).CombinedOutput()
	return string(out)
}

func visudoCheck(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("visudo", "-c").CombinedOutput(); err != nil {
		t.Fatalf("visudo -c: %v: %s", err, out)
	}
}

func dropInExists(user string) bool {
	_, err := os.Stat(filepath.Join(sudoersDir, DropInName(user)))
	return err == nil
}

func TestElevateGrantsSudoOnce(t *testing.T) {
	elevationtest.NeedRoot(t)
	h := newHarness(t, "", nil)
	user, _ := testUser(t)
	other, _ := testUser(t)
	ctx := context.Background()

	code := elevationtest.Code(t, testSecret, testDevice, user, 30*time.Minute, start.Add(-2*time.Minute))
	s, err := h.m.Elevate(ctx, user, code)
	if err != nil {
		t.Fatalf("Elevate: %v", err)
	}
	if s.User != user || !s.Until.Equal(start.Add(30*time.Minute)) || s.ID == "" {
		t.Errorf("session %+v", s)
	}
	fi, err := os.Stat(filepath.Join(sudoersDir, DropInName(user)))
	if err != nil || fi.Mode().Perm() != 0o440 {
		t.Fatalf("drop-in: %v mode %v", err, fi)
	}
	if l := sudoList(t, user); !strings.Contains(l, "(ALL : ALL) NOPASSWD: ALL") {
		t.Fatalf("sudo -l -U %s:\n%s", user, l)
	}
	visudoCheck(t)
	if l := sudoList(t, other); !strings.Contains(l, "not allowed") {
		t.Errorf("other user got rights:\n%s", l)
	}

	// Single use, also for a new Manager on the same state dir (restart).
	if _, err := h.m.Elevate(ctx, user, code); !errors.Is(err, elevcode.ErrUsed) || !errors.Is(err, ErrDenied) {
		t.Errorf("same code again = %v, want ErrUsed", err)
	}
	h2 := newHarness(t, h.dir, h.clk)
	if _, err := h2.m.Elevate(ctx, user, code); !errors.Is(err, elevcode.ErrUsed) {
		t.Errorf("same code after restart = %v, want ErrUsed", err)
	}

	tests := []struct {
		name, user, code string
		want             error
	}{
		{"other device", user, elevationtest.Code(t, testSecret, "dev-other", user, time.Hour, start), elevcode.ErrBadCode},
		{"other user", other, elevationtest.Code(t, testSecret, testDevice, user, time.Hour, start), elevcode.ErrBadCode},
		{"expired", user, elevationtest.Code(t, testSecret, testDevice, user, time.Hour, start.Add(-3*time.Hour)), elevcode.ErrExpired},
		{"malformed", user, "hello", elevcode.ErrMalformed},
		{"unknown user", "phel-nosuchuser", code, ErrBadUser},
		{"invalid user", "root;rm", code, ErrBadUser},
		{"root", "root", code, ErrBadUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h2.m.Elevate(ctx, tt.user, tt.code); !errors.Is(err, tt.want) {
				t.Errorf("Elevate = %v, want %v", err, tt.want)
			}
		})
	}
	if dropInExists(other) {
		t.Error("a refused code left a drop-in for the other user")
	}

	// Early revoke.
	if err := h2.m.Revoke(ctx, user); err != nil {
		t.Fatal(err)
	}
	if dropInExists(user) || !strings.Contains(sudoList(t, user), "not allowed") {
		t.Error("rights still there after Revoke")
	}
	if err := h2.m.Revoke(ctx, user); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("second Revoke = %v, want ErrUnknownUser", err)
	}
	denied := 0
	for _, ev := range append(h.ev.list(), h2.ev.list()...) {
		if ev.Kind == EventDenied {
			denied++
			if strings.Contains(ev.Err, code) {
				t.Errorf("event carries the code: %+v", ev)
			}
		}
	}
	if denied != 2+len(tests) {
		t.Errorf("%d denied events, want %d: %v %v", denied, 2+len(tests), h.ev.kinds(), h2.ev.kinds())
	}
}

func TestRateLimit(t *testing.T) {
	elevationtest.NeedRoot(t)
	h := newHarness(t, "", nil)
	user, _ := testUser(t)
	ctx := context.Background()
	wrong := func() string {
		return elevationtest.Code(t, bytes.Repeat([]byte{9}, 32), testDevice, user, time.Hour, h.clk.Now())
	}
	for i := range FreeFailures {
		if _, err := h.m.Elevate(ctx, user, wrong()); !errors.Is(err, elevcode.ErrBadCode) {
			t.Fatalf("wrong code %d = %v, want ErrBadCode", i+1, err)
		}
	}
	good := elevationtest.Code(t, testSecret, testDevice, user, time.Hour, h.clk.Now())
	if _, err := h.m.Elevate(ctx, user, good); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("6th attempt (valid code) = %v, want ErrRateLimited", err)
	}
	// Persisted: a restart does not reset the limit.
	h = newHarness(t, h.dir, h.clk)
	if _, err := h.m.Elevate(ctx, user, wrong()); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("after restart = %v, want ErrRateLimited", err)
	}
	h.clk.Advance(BaseLockout)
	if _, err := h.m.Elevate(ctx, user, wrong()); !errors.Is(err, elevcode.ErrBadCode) {
		t.Fatalf("after lock-out = %v, want ErrBadCode", err)
	}
	// The 6th failure doubles the lock-out.
	h.clk.Advance(BaseLockout)
	if _, err := h.m.Elevate(ctx, user, good); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("inside doubled lock-out = %v, want ErrRateLimited", err)
	}
	h.clk.Advance(BaseLockout)
	if _, err := h.m.Elevate(ctx, user, good); err != nil {
		t.Fatalf("valid code after lock-out: %v", err)
	}
	st, err := h.m.journal.Load()
	if err != nil || st.Limiter.Failures != 0 {
		t.Errorf("limiter after success: %+v %v", st.Limiter, err)
	}
}

// TestRateLimitParallel: wrong codes tried all at once are checked one
// at a time against the journalled limiter, so exactly FreeFailures are
// checked and the rest refused, however many arrive together.
func TestRateLimitParallel(t *testing.T) {
	elevationtest.NeedRoot(t)
	h := newHarness(t, "", nil)
	user, _ := testUser(t)
	wrong := elevationtest.Code(t, bytes.Repeat([]byte{9}, 32), testDevice, user, time.Hour, h.clk.Now())
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.m.Elevate(context.Background(), user, wrong)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	checked, refused := 0, 0
	for err := range errs {
		switch {
		case errors.Is(err, elevcode.ErrBadCode):
			checked++
		case errors.Is(err, ErrRateLimited):
			refused++
		default:
			t.Fatalf("wrong code: %v", err)
		}
	}
	if checked != FreeFailures || refused != 16-FreeFailures {
		t.Fatalf("16 wrong codes at once: %d checked, %d refused; want %d and %d", checked, refused, FreeFailures, 16-FreeFailures)
	}
}

func TestRunRevokesAtExpiry(t *testing.T) {
	elevationtest.NeedRoot(t)
	h := newHarness(t, "", nil)
	user, _ := testUser(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	if err := h.clk.BlockUntil(ctx, 1); err != nil { // Run is asleep
		t.Fatal(err)
	}
	if _, err := h.m.Elevate(ctx, user, elevationtest.Code(t, testSecret, testDevice, user, 10*time.Minute, start)); err != nil {
		t.Fatal(err)
	}
	if err := h.clk.BlockUntil(ctx, 2); err != nil { // Run woke, rescheduled for Until
		t.Fatal(err)
	}
	h.clk.Advance(10*time.Minute - time.Second)
	if !dropInExists(user) {
		t.Fatal("drop-in removed before expiry")
	}
	h.clk.Advance(time.Second)
	waitFor(t, "drop-in removed at expiry", func() bool { return !dropInExists(user) })
	waitFor(t, "expired event", func() bool { return hasKind(h.ev.list(), EventExpired) })
	if l := sudoList(t, user); !strings.Contains(l, "not allowed") {
		t.Errorf("sudo -l after expiry:\n%s", l)
	}
	st, err := h.m.journal.Load()
	if err != nil || len(st.Grants) != 1 || st.Grants[0].State != stateEnded || st.Grants[0].Reason != EventExpired {
		t.Fatalf("journal after expiry: %+v %v", st, err)
	}
	if s, _ := h.m.Sessions(); len(s) != 0 {
		t.Errorf("sessions after expiry: %+v", s)
	}
	visudoCheck(t)
}

func TestReconcileAfterCrash(t *testing.T) {
	elevationtest.NeedRoot(t)
	h := newHarness(t, "", nil)
	user, _ := testUser(t)
	orphan, _ := testUser(t)
	ctx := context.Background()
	if _, err := h.m.Elevate(ctx, user, elevationtest.Code(t, testSecret, testDevice, user, 20*time.Minute, start)); err != nil {
		t.Fatal(err)
	}
	// A drop-in the journal does not know and a temp file from a crash.
	if err := os.WriteFile(filepath.Join(sudoersDir, DropInName(orphan)), []byte("#0 ALL=(ALL:ALL) ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(sudoersDir, "."+DropInPrefix+"crash")
	if err := os.WriteFile(tmp, []byte("junk"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(tmp) })

	// "Crash": the Manager is dropped without Run or Revoke. A new one
	// reconciles before expiry: the grant stays, the orphan goes.
	h2 := newHarness(t, h.dir, h.clk)
	if err := h2.m.Reconcile(ctx, start.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !dropInExists(user) || dropInExists(orphan) {
		t.Fatalf("after early reconcile: user drop-in %v, orphan %v", dropInExists(user), dropInExists(orphan))
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp file left: %v", err)
	}
	if !hasKind(h2.ev.list(), EventOrphanRemoved) {
		t.Errorf("no orphan event: %v", h2.ev.kinds())
	}
	// Past expiry the grant goes too.
	if err := h2.m.Reconcile(ctx, start.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if dropInExists(user) || !hasKind(h2.ev.list(), EventExpired) {
		t.Fatalf("after reconcile past expiry: drop-in %v, events %v", dropInExists(user), h2.ev.kinds())
	}
	visudoCheck(t)
}

func TestInterruptedGrantRecovered(t *testing.T) {
	elevationtest.NeedRoot(t)
	h := newHarness(t, "", nil)
	user, uid := testUser(t)
	ctx := context.Background()
	// As if the agent died between journalling the intent and finishing.
	st := &state{Grants: []*grantEntry{{SessionID: "s1", User: user, UID: uid, State: stateIntent, GrantedAt: start, Until: start.Add(time.Hour)}}}
	if err := h.m.journal.Save(st); err != nil {
		t.Fatal(err)
	}
	if err := h.m.sys.grant(ctx, user, uid, start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Reconcile(ctx, start); err != nil {
		t.Fatal(err)
	}
	if dropInExists(user) || !hasKind(h.ev.list(), EventRecovered) {
		t.Fatalf("interrupted grant not rolled back: %v", h.ev.kinds())
	}
}

func TestDropInName(t *testing.T) {
	for _, u := range []string{"alice", "a_b-c", "john.doe", "x@corp.example", "-"} {
		name := DropInName(u)
		if strings.Contains(name, ".") || strings.HasSuffix(name, "~") {
			t.Errorf("DropInName(%q) = %q, which sudo would skip", u, name)
		}
		back, ok := userFromDropIn(name)
		if !ok || back != u {
			t.Errorf("userFromDropIn(%q) = %q %v, want %q", name, back, ok, u)
		}
	}
	for _, bad := range []string{"porthole-", "porthole--zz", "other", "README"} {
		if u, ok := userFromDropIn(bad); ok {
			t.Errorf("userFromDropIn(%q) = %q", bad, u)
		}
	}
}

func hasKind(evs []Event, k EventKind) bool {
	for _, ev := range evs {
		if ev.Kind == k {
			return true
		}
	}
	return false
}
