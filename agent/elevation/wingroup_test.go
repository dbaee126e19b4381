package elevation

// Elevation on Windows, driven through the Manager against
// winlocaltest.Machine: the Win32 calls, the journal, recovery after a
// crash, and that members of Administrators porthole did not add are
// never touched.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"porthole/agent/elevation/elevationtest"
	"porthole/agent/winlocal"
	"porthole/agent/winlocal/winlocaltest"
	"porthole/internal/clock/clocktest"
)

var (
	_ groups = (*winlocaltest.Machine)(nil)
	_ tokens = (*winlocaltest.Machine)(nil)
)

type winElev struct {
	m    *Manager
	mach *winlocaltest.Machine
	clk  *clocktest.TimerClock
	dir  string
	ev   *events
}

func newWinElevOn(t *testing.T, dir string, mach *winlocaltest.Machine, clk *clocktest.TimerClock) *winElev {
	t.Helper()
	h := &winElev{mach: mach, clk: clk, dir: dir, ev: &events{}}
	m, err := New(Config{StateDir: dir, DeviceID: testDevice, Secret: testSecret, Clock: clk, Timer: clk, OnEvent: h.ev.add})
	if err != nil {
		t.Fatal(err)
	}
	m.sys = adminsGroup{api: mach, log: slog.New(slog.DiscardHandler)}
	m.rec.cfg.src = newTokenSource(mach)
	h.m = m
	return h
}

func newWinElev(t *testing.T) *winElev {
	t.Helper()
	return newWinElevOn(t, t.TempDir(), winlocaltest.New(), clocktest.NewTimerClock(start))
}

func (h *winElev) restart(t *testing.T) *winElev {
	t.Helper()
	return newWinElevOn(t, h.dir, h.mach, h.clk)
}

func (h *winElev) elevate(t *testing.T, user string, d time.Duration) (Session, error) {
	t.Helper()
	return h.m.Elevate(context.Background(), user, elevationtest.Code(t, testSecret, testDevice, user, d, h.clk.Now()))
}

// grants reads the journal from disk: user → state, uid.
func grants(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range st.Grants {
		out[g.User] = string(g.State) + " " + g.UID
	}
	return out
}

func TestWinElevateAndExpire(t *testing.T) {
	h := newWinElev(t)
	sid := h.mach.AddUser("alice", false)
	var mu sync.Mutex
	var atAdd map[string]string
	h.mach.OnCall(func(call string) {
		if strings.HasPrefix(call, "NetLocalGroupAddMembers(") {
			mu.Lock()
			atAdd = grants(t, h.m.JournalPath())
			mu.Unlock()
		}
	})
	s, err := h.elevate(t, "alice", 30*time.Minute)
	if err != nil {
		t.Fatalf("Elevate: %v", err)
	}
	h.mach.OnCall(nil)
	want := []string{
		"LookupAccountName(alice)",
		"LookupAccountSid(S-1-5-32-544)",
		"NetLocalGroupAddMembers(" + winlocaltest.AdminsName + ", " + sid + ")",
	}
	if d := cmp.Diff(want, h.mach.Calls()); d != "" {
		t.Fatalf("calls (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"alice": "intent " + sid}, atAdd); d != "" {
		t.Errorf("journal when the group changes (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"alice": "active " + sid}, grants(t, h.m.JournalPath())); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	if !h.mach.IsAdmin(sid) || !s.Until.Equal(start.Add(30*time.Minute)) {
		t.Fatalf("after Elevate: admin %v, until %v", h.mach.IsAdmin(sid), s.Until)
	}

	h.mach.ResetCalls()
	h.clk.Advance(30 * time.Minute)
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"LookupAccountSid(S-1-5-32-544)",
		"NetLocalGroupDelMembers(" + winlocaltest.AdminsName + ", " + sid + ")",
		"LookupAccountSid(S-1-5-32-544)",
		"NetLocalGroupGetMembers(" + winlocaltest.AdminsName + ")",
	}
	if d := cmp.Diff(want, h.mach.Calls()); d != "" {
		t.Fatalf("calls at expiry (-want +got):\n%s", d)
	}
	if h.mach.IsAdmin(sid) {
		t.Fatal("alice is still an administrator")
	}
	if d := cmp.Diff([]EventKind{EventGranted, EventExpired}, h.ev.kinds()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

// TestWinExistingAdminsNeverTouched: an administrator who is one without
// porthole is refused a grant, and neither that refusal, an extension of
// someone else's grant, nor any reconcile ever removes them.
func TestWinExistingAdminsNeverTouched(t *testing.T) {
	h := newWinElev(t)
	bob := h.mach.AddUser("bob", true)
	carol := h.mach.AddUser("carol", true)
	alice := h.mach.AddUser("alice", false)

	_, err := h.elevate(t, "bob", 10*time.Minute)
	if !errors.Is(err, ErrBadUser) || !errors.Is(err, errAlreadyAdmin) {
		t.Fatalf("Elevate(bob) = %v, want ErrBadUser: already an administrator", err)
	}
	evs := h.ev.list()
	if len(evs) != 1 || evs[0].Kind != EventDenied || evs[0].Reason != ReasonBadUser {
		t.Fatalf("events %+v, want one denial (bad_user)", evs)
	}
	if g := grants(t, h.m.JournalPath()); len(g) != 0 {
		t.Fatalf("journal holds %v after a refused grant", g)
	}
	// alice is elevated, then extended by a second code: the member is
	// porthole's already, so that is no refusal.
	if _, err := h.elevate(t, "alice", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	s, err := h.elevate(t, "alice", 20*time.Minute)
	if err != nil || !s.Until.Equal(start.Add(20*time.Minute)) {
		t.Fatalf("extension = %+v, %v", s, err)
	}
	h.clk.Advance(time.Hour)
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := h.mach.Calls("NetLocalGroupDelMembers"); !slices.Equal(got, []string{"NetLocalGroupDelMembers(" + winlocaltest.AdminsName + ", " + alice + ")"}) {
		t.Errorf("removals %v, want alice's only", got)
	}
	if !h.mach.IsAdmin(bob) || !h.mach.IsAdmin(carol) || h.mach.IsAdmin(alice) {
		t.Errorf("admins after expiry: bob %v carol %v alice %v; want bob and carol only",
			h.mach.IsAdmin(bob), h.mach.IsAdmin(carol), h.mach.IsAdmin(alice))
	}
	// Made an administrator for good after porthole's grant ended: not
	// porthole's any more, never touched again.
	h.mach.AddAdmin(alice)
	h.mach.ResetCalls()
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := h.mach.Calls("NetLocalGroupDelMembers"); len(got) != 0 || !h.mach.IsAdmin(alice) {
		t.Errorf("a permanent admin made after the grant ended was removed: %v", got)
	}
}

func TestWinElevationCrashRecovery(t *testing.T) {
	for _, tt := range []struct {
		name        string
		crash       string
		after       bool
		atExpiry    bool
		wantJournal string // state on disk after the crash
		wantAdmin   bool   // membership after the crash
		wantEvent   EventKind
	}{
		{"after the journal, before the group add", "NetLocalGroupAddMembers", false, false, "intent", false, EventRecovered},
		{"after the group add, before the journal says active", "NetLocalGroupAddMembers", true, false, "intent", true, EventRecovered},
		{"at expiry, after the group removal, before the journal says ended", "NetLocalGroupDelMembers", true, true, "active", false, EventExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newWinElev(t)
			sid := h.mach.AddUser("alice", false)
			step := func() { _, _ = h.elevate(t, "alice", 10*time.Minute) }
			if tt.atExpiry {
				if _, err := h.elevate(t, "alice", 10*time.Minute); err != nil {
					t.Fatal(err)
				}
				h.clk.Advance(10 * time.Minute)
				step = func() { _ = h.m.Reconcile(context.Background(), h.clk.Now()) }
			}
			if tt.after {
				h.mach.CrashAfter(tt.crash)
			} else {
				h.mach.CrashBefore(tt.crash)
			}
			if !winlocaltest.RunUntilCrash(step) {
				t.Fatal("the step did not crash")
			}
			if d := cmp.Diff(map[string]string{"alice": tt.wantJournal + " " + sid}, grants(t, h.m.JournalPath())); d != "" {
				t.Fatalf("journal after the crash (-want +got):\n%s", d)
			}
			if h.mach.IsAdmin(sid) != tt.wantAdmin {
				t.Fatalf("admin after the crash: %v, want %v", h.mach.IsAdmin(sid), tt.wantAdmin)
			}
			r := h.restart(t)
			if err := r.m.Reconcile(context.Background(), r.clk.Now()); err != nil {
				t.Fatalf("Reconcile after restart: %v", err)
			}
			if r.mach.IsAdmin(sid) {
				t.Error("alice is an administrator after recovery")
			}
			if d := cmp.Diff(map[string]string{"alice": "ended " + sid}, grants(t, r.m.JournalPath())); d != "" {
				t.Errorf("journal after recovery (-want +got):\n%s", d)
			}
			if d := cmp.Diff([]EventKind{tt.wantEvent}, r.ev.kinds()); d != "" {
				t.Errorf("events after restart (-want +got):\n%s", d)
			}
		})
	}
}

// TestWinRebootStaleGrant: the machine was off past Until; at start the
// grant is removed by the SID in the journal, even though the user has
// been renamed meanwhile.
func TestWinRebootStaleGrant(t *testing.T) {
	h := newWinElev(t)
	sid := h.mach.AddUser("alice", false)
	if _, err := h.elevate(t, "alice", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	h.mach.Reboot()
	h.clk.Advance(3 * time.Hour)
	r := h.restart(t)
	if err := r.m.Reconcile(context.Background(), r.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if r.mach.IsAdmin(sid) {
		t.Fatal("still an administrator after the stale grant was reconciled")
	}
	if got := r.mach.Calls("LookupAccountName"); len(got) != 1 {
		t.Errorf("name lookups %v: the revoke should use the journal's SID", got)
	}
	if d := cmp.Diff([]EventKind{EventExpired}, r.ev.kinds()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

// TestWinGrantedStillMember: the journal says a grant is porthole's and
// over, the removal reported success, yet the SID is still in the group:
// the reconcile's check of the group finds it and removes it.
func TestWinGrantedStillMember(t *testing.T) {
	h := newWinElev(t)
	sid := h.mach.AddUser("alice", false)
	carol := h.mach.AddUser("carol", true)
	if _, err := h.elevate(t, "alice", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(10 * time.Minute)
	h.mach.NoEffect("NetLocalGroupDelMembers")
	h.mach.ResetCalls()
	if err := h.m.Reconcile(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"NetLocalGroupDelMembers(" + winlocaltest.AdminsName + ", " + sid + ")",
		"NetLocalGroupGetMembers(" + winlocaltest.AdminsName + ")",
		"NetLocalGroupDelMembers(" + winlocaltest.AdminsName + ", " + sid + ")",
	}
	if d := cmp.Diff(want, h.mach.Calls("NetLocalGroupDelMembers", "NetLocalGroupGetMembers")); d != "" {
		t.Fatalf("calls (-want +got):\n%s", d)
	}
	if h.mach.IsAdmin(sid) || !h.mach.IsAdmin(carol) {
		t.Fatalf("alice admin %v (want false), carol admin %v (want true)", h.mach.IsAdmin(sid), h.mach.IsAdmin(carol))
	}
	if d := cmp.Diff([]EventKind{EventGranted, EventExpired, EventOrphanRemoved}, h.ev.kinds()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestWinLookup(t *testing.T) {
	mach := winlocaltest.New()
	local := mach.AddUser("alice", false)
	dom := mach.AddDomainUser("dave")
	g := adminsGroup{api: mach, log: slog.New(slog.DiscardHandler)}
	for _, tt := range []struct {
		name, want string
		err        error
	}{
		{"alice", local, nil},
		{"dave", dom, nil},
		{winlocaltest.AdminsName, "", ErrBadUser},
		{"nobody", "", ErrBadUser},
	} {
		got, err := g.lookup(context.Background(), tt.name)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("lookup(%s) = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
	mach.Fail("NetLocalGroupAddMembers", winlocal.ErrorAccessDenied)
	if err := g.grant(context.Background(), "alice", local, time.Time{}); !errors.Is(err, ErrSystem) || !errors.Is(err, winlocal.ErrorAccessDenied) {
		t.Errorf("grant with a failing call = %v, want ErrSystem wrapping access denied", err)
	}
}

// TestWinRecordsElevatedProcesses: during a grant, processes of the user
// with an elevated token are recorded (start, then exit), with their image
// and redacted command line; the user's unelevated processes, other
// users' elevated ones and unreadable ones are not. Each token is read
// once per process, however many polls see it.
func TestWinRecordsElevatedProcesses(t *testing.T) {
	h := newWinElev(t)
	alice := h.mach.AddUser("alice", false)
	bob := h.mach.AddUser("bob", true)
	session := h.mach.Logon("alice")
	s, err := h.elevate(t, "alice", 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ps := h.mach.Start(alice, winlocaltest.ProcOpts{Image: "powershell.exe", Path: `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
		Args: []string{"powershell.exe", "-Command", "Set-Thing", "password=hunter2"}, Elevated: true, Session: session, PPID: 8})
	h.mach.Start(alice, winlocaltest.ProcOpts{Image: "notepad.exe", Session: session})
	h.mach.Start(bob, winlocaltest.ProcOpts{Image: "cmd.exe", Elevated: true})
	h.mach.Start(alice, winlocaltest.ProcOpts{Image: "secure.exe", Elevated: true, Protected: true})

	h.ev.all = nil
	h.mach.ResetCalls()
	h.m.rec.poll()
	h.m.rec.poll()
	evs := h.ev.list()
	if len(evs) != 1 || evs[0].Kind != EventProcessStart {
		t.Fatalf("events %+v, want one process start", evs)
	}
	want := &Process{PID: int(ps.PID), PPID: 8, UID: -1, EUID: -1, LoginUID: -1, SID: alice,
		Exe: `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, Args: []string{"powershell.exe", "-Command", "Set-Thing", "password=[REDACTED]"},
		StartedAt: winlocal.FiletimeToTime(ps.Created)}
	if d := cmp.Diff(want, evs[0].Process); d != "" {
		t.Errorf("process (-want +got):\n%s", d)
	}
	if evs[0].SessionID != s.ID || evs[0].User != "alice" || evs[0].ID == "" {
		t.Errorf("event %+v, want session %s user alice and an id", evs[0], s.ID)
	}
	procs, _ := h.mach.Processes()
	if n := len(h.mach.Calls("OpenProcessToken")); n != len(procs) {
		t.Errorf("%d token reads over two polls of %d processes, want one each", n, len(procs))
	}
	if n := len(h.mach.Calls("QueryFullProcessImageName")); n != 1 {
		t.Errorf("%d detail reads, want 1", n)
	}

	// The PID is reused by another elevated process: the old one exits,
	// the new one starts.
	h.mach.Exit(ps.PID)
	h.mach.Start(alice, winlocaltest.ProcOpts{Image: "mmc.exe", Elevated: true, PID: ps.PID})
	h.ev.all = nil
	h.m.rec.poll()
	var got []string
	for _, e := range h.ev.list() {
		got = append(got, string(e.Kind)+" "+e.Process.Exe)
	}
	if d := cmp.Diff([]string{"elevation.process_start " + `C:\Windows\System32\mmc.exe`,
		"elevation.process_exit " + want.Exe}, got); d != "" {
		t.Errorf("events after PID reuse (-want +got):\n%s", d)
	}
	// What the tokens said is remembered for running processes only.
	procs, _ = h.mach.Processes()
	if n := len(h.m.rec.cfg.src.(*tokenSource).known); n != len(procs) {
		t.Errorf("token cache holds %d processes, %d run", n, len(procs))
	}
}
