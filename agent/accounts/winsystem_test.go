package accounts

// Break glass on Windows, driven through the Manager against
// winlocaltest.Machine: the Win32 calls made, their order and arguments,
// the journal at each step, and recovery from a crash at each step.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"porthole/agent/winlocal"
	"porthole/agent/winlocal/winlocaltest"
	"porthole/internal/clock/clocktest"
)

var _ winAPI = (*winlocaltest.Machine)(nil)

// winHarness is a Manager whose system is winSystem over a fake machine.
type winHarness struct {
	m    *Manager
	mach *winlocaltest.Machine
	clk  *clocktest.TimerClock
	dir  string
	evs  *eventLog
}

// newWinHarness makes a Manager over dir and mach; a second one over the
// same dir and machine is the agent after a restart.
func newWinHarness(t *testing.T, dir string, mach *winlocaltest.Machine, clk *clocktest.TimerClock) *winHarness {
	t.Helper()
	h := &winHarness{mach: mach, clk: clk, dir: dir, evs: &eventLog{}}
	m, err := New(Config{StateDir: dir, Clock: clk, Timer: clk, OnEvent: h.evs.add})
	if err != nil {
		t.Fatal(err)
	}
	ws := newWinSystem(mach, slog.New(slog.DiscardHandler))
	ws.pause = func(context.Context) error { return nil }
	m.sys = ws
	h.m = m
	return h
}

func newWin(t *testing.T) *winHarness {
	t.Helper()
	return newWinHarness(t, t.TempDir(), winlocaltest.New(), clocktest.NewTimerClock(testStart))
}

// restart is a new Manager over the same state dir, machine and clock.
func (h *winHarness) restart(t *testing.T) *winHarness {
	t.Helper()
	return newWinHarness(t, h.dir, h.mach, h.clk)
}

func (h *winHarness) create(t *testing.T) Account {
	t.Helper()
	a, err := h.m.Create(context.Background(), Spec{GrantID: "g-" + t.Name(), Requester: "alice", ExpiresAt: testStart.Add(time.Hour)})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return a
}

// journalStates reads the journal file as the disk holds it: username →
// state.
func journalStates(t *testing.T, path string) map[string]entryState {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var f journalFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("journal: %v\n%s", err, b)
	}
	out := map[string]entryState{}
	for _, e := range f.Accounts {
		out[e.Username] = e.State
	}
	return out
}

// sid returns the SID of a local user of the machine, failing if absent.
func (h *winHarness) sid(t *testing.T, name string) string {
	t.Helper()
	info, _, ok := h.mach.User(name)
	if !ok {
		t.Fatalf("user %s does not exist", name)
	}
	return info.SID
}

// checkGone checks that nothing of the account is left on the machine.
func (h *winHarness) checkGone(t *testing.T, name, sid string) {
	t.Helper()
	if slices.Contains(h.mach.LocalUsers(), name) {
		t.Errorf("user %s still exists", name)
	}
	if h.mach.IsAdmin(sid) {
		t.Errorf("%s still in Administrators", sid)
	}
	if h.mach.HasProfile(sid) {
		t.Errorf("profile of %s still there", sid)
	}
	if s := h.mach.SessionsOf(name); len(s) > 0 {
		t.Errorf("sessions of %s left: %v", name, s)
	}
	if p := h.mach.ProcessesOf(sid); len(p) > 0 {
		t.Errorf("processes of %s left: %v", sid, p)
	}
}

const wantFlags = "UF_SCRIPT|UF_PASSWD_CANT_CHANGE|UF_NORMAL_ACCOUNT|UF_DONT_EXPIRE_PASSWD"

func TestWinCreate(t *testing.T) {
	h := newWin(t)
	// The journal on disk when the account is added and made an
	// administrator: the intent must be durable before either.
	var mu sync.Mutex
	journalAt := map[string]map[string]entryState{}
	h.mach.OnCall(func(call string) {
		fn, _, _ := strings.Cut(call, "(")
		if fn == "NetUserAdd" || fn == "NetLocalGroupAddMembers" {
			mu.Lock()
			journalAt[fn] = journalStates(t, h.m.JournalPath())
			mu.Unlock()
		}
	})
	a := h.create(t)
	h.mach.OnCall(nil)

	sid := h.sid(t, a.Username)
	want := []string{
		"LookupAccountSid(S-1-5-32-544)",
		"LookupAccountName(" + a.Username + ")",
		fmt.Sprintf("NetUserAdd(level=1, name=%s, priv=1, flags=%s, comment=%q)", a.Username, wantFlags, winComment),
		"NetUserSetInfo(level=1017, name=" + a.Username + ", acct_expires=2030-01-01T13:00:00Z)",
		"NetUserGetInfo(" + a.Username + ")",
		"NetLocalGroupAddMembers(" + winlocaltest.AdminsName + ", " + sid + ")",
	}
	if d := cmp.Diff(want, h.mach.Calls()); d != "" {
		t.Fatalf("calls (-want +got):\n%s", d)
	}
	intent := map[string]entryState{a.Username: stateIntent}
	if d := cmp.Diff(map[string]map[string]entryState{"NetUserAdd": intent, "NetLocalGroupAddMembers": intent}, journalAt); d != "" {
		t.Errorf("journal during creation (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]entryState{a.Username: stateCreated}, journalStates(t, h.m.JournalPath())); d != "" {
		t.Errorf("journal after creation (-want +got):\n%s", d)
	}
	// The password handed out is the one the account was made with, from
	// the generator (length and classes), and is not in the journal.
	_, pw, _ := h.mach.User(a.Username)
	if pw != a.Password || len(pw) != PasswordLen || !hasClasses(pw) {
		t.Errorf("account password %q, handed out %q", pw, a.Password)
	}
	if b, _ := os.ReadFile(h.m.JournalPath()); strings.Contains(string(b), a.Password) {
		t.Error("journal holds the password")
	}
	if !h.mach.IsAdmin(sid) {
		t.Error("account is not in Administrators")
	}
	if got := h.mach.Expires(a.Username); !got.Equal(a.ExpiresAt) {
		t.Errorf("account expiry %v, want %v", got, a.ExpiresAt)
	}
	if d := cmp.Diff([]EventKind{EventCreated}, h.evs.kinds()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	mustWinStatus(t, h, a.Username, StatusPending)
}

func mustWinStatus(t *testing.T, h *winHarness, name string, want Status) {
	t.Helper()
	got, err := h.m.Status(context.Background(), name)
	if err != nil || got != want {
		t.Fatalf("Status(%s) = %v, %v; want %v", name, got, err, want)
	}
}

func TestWinRevoke(t *testing.T) {
	h := newWin(t)
	aliceSID := h.mach.AddUser("alice", true)
	aliceSession := h.mach.Logon("alice")
	alicePS := h.mach.Start(aliceSID, winlocaltest.ProcOpts{Image: "powershell.exe", Elevated: true, Session: aliceSession})
	a := h.create(t)
	sid := h.sid(t, a.Username)
	session := h.mach.Logon(a.Username)
	// A process of the account outside its session (a scheduled task).
	task := h.mach.Start(sid, winlocaltest.ProcOpts{Image: "task.exe"})
	mustWinStatus(t, h, a.Username, StatusActive)
	h.mach.ResetCalls()

	if err := h.m.Revoke(context.Background(), a.Username); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	want := []string{
		"NetUserGetInfo(" + a.Username + ")",
		"NetUserSetInfo(level=1008, name=" + a.Username + ", flags=UF_SCRIPT|UF_ACCOUNTDISABLE|UF_PASSWD_CANT_CHANGE|UF_NORMAL_ACCOUNT|UF_DONT_EXPIRE_PASSWD)",
		"WTSEnumerateSessions()",
		fmt.Sprintf("WTSLogoffSession(%d)", session),
		"NtQuerySystemInformation(SystemProcessInformation)",
		fmt.Sprintf("TerminateProcess(%d)", task.PID),
		"NtQuerySystemInformation(SystemProcessInformation)",
		"DeleteProfile(" + sid + ")",
		"NetUserDel(" + a.Username + ")",
	}
	got := h.mach.Calls("NetUserGetInfo", "NetUserSetInfo", "WTSEnumerateSessions", "WTSLogoffSession",
		"NtQuerySystemInformation", "TerminateProcess", "DeleteProfile", "NetUserDel")
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("calls (-want +got):\n%s", d)
	}
	// Sessions are matched by the SID of DOMAIN\user: alice's was looked
	// up and left alone.
	if !slices.Contains(h.mach.Calls("LookupAccountName"), `LookupAccountName(PC1\alice)`) {
		t.Errorf("alice's session not resolved: %v", h.mach.Calls("LookupAccountName"))
	}
	h.checkGone(t, a.Username, sid)
	if s := h.mach.SessionsOf("alice"); !slices.Equal(s, []uint32{aliceSession}) {
		t.Errorf("alice's sessions %v, want [%d]", s, aliceSession)
	}
	if p := h.mach.ProcessesOf(aliceSID); !slices.Contains(p, alicePS.PID) {
		t.Errorf("alice's processes %v lost %d", p, alicePS.PID)
	}
	if !h.mach.IsAdmin(aliceSID) {
		t.Error("alice lost Administrators")
	}
	if d := cmp.Diff(map[string]entryState{a.Username: stateRemoved}, journalStates(t, h.m.JournalPath())); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]EventKind{EventCreated, EventUsed, EventRevoked}, h.evs.kinds()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	mustWinStatus(t, h, a.Username, StatusRemoved)
}

// TestWinUsage: first use is seen from a session, from a process without
// a session, or from the SAM's logon count after the session is gone.
func TestWinUsage(t *testing.T) {
	for _, tt := range []struct {
		name string
		use  func(h *winHarness, user, sid string)
		want Status
	}{
		{"session", func(h *winHarness, user, _ string) { h.mach.Logon(user) }, StatusActive},
		{"process only", func(h *winHarness, _, sid string) {
			h.mach.Start(sid, winlocaltest.ProcOpts{Image: "cmd.exe"})
		}, StatusActive},
		{"logged on before a reboot", func(h *winHarness, user, _ string) {
			h.mach.Logon(user)
			h.mach.Reboot()
		}, StatusUsed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newWin(t)
			a := h.create(t)
			mustWinStatus(t, h, a.Username, StatusPending)
			tt.use(h, a.Username, h.sid(t, a.Username))
			mustWinStatus(t, h, a.Username, tt.want)
			if d := cmp.Diff([]EventKind{EventCreated, EventUsed}, h.evs.kinds()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

// TestWinCrashRecovery stops the agent at each step of creating and of
// removing an account, restarts it on the same journal and machine, and
// checks that the restarted agent removes the account completely.
func TestWinCrashRecovery(t *testing.T) {
	tests := []struct {
		name string
		// crash arms the machine; the step runs next and must crash.
		crash func(m *winlocaltest.Machine)
		// removal: crash while removing an expired account rather than
		// while creating one.
		removal bool
		// wantJournal is the crashed account's state on disk.
		wantJournal entryState
		// wantUser: whether the account exists after the crash.
		wantUser bool
		// wantEvent is what the restarted agent reports.
		wantEvent EventKind
	}{
		{"after the journal's intent, before NetUserAdd", func(m *winlocaltest.Machine) { m.CrashBefore("NetUserAdd") },
			false, stateIntent, false, EventRecovered},
		{"after NetUserAdd, before the group add", func(m *winlocaltest.Machine) { m.CrashAfter("NetUserAdd") },
			false, stateIntent, true, EventRecovered},
		{"after the group add, before the journal says created", func(m *winlocaltest.Machine) { m.CrashAfter("NetLocalGroupAddMembers") },
			false, stateIntent, true, EventRecovered},
		{"during removal, after log-off and before NetUserDel", func(m *winlocaltest.Machine) { m.CrashBefore("NetUserDel") },
			true, stateCreated, true, EventExpired},
		{"after NetUserDel, before the journal says removed", func(m *winlocaltest.Machine) { m.CrashAfter("NetUserDel") },
			true, stateCreated, false, EventExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newWin(t)
			ctx := context.Background()
			var user string
			step := func() {
				a, err := h.m.Create(ctx, Spec{GrantID: "g", ExpiresAt: testStart.Add(time.Hour)})
				if err == nil {
					t.Errorf("Create returned %+v instead of crashing", a)
				}
			}
			if tt.removal {
				a := h.create(t)
				user = a.Username
				h.mach.Logon(user)
				h.clk.Advance(time.Hour)
				step = func() { _ = h.m.Reconcile(ctx, h.clk.Now()) }
			}
			tt.crash(h.mach)
			if !winlocaltest.RunUntilCrash(step) {
				t.Fatal("the step did not crash")
			}
			states := journalStates(t, h.m.JournalPath())
			if user == "" {
				for u := range states {
					user = u
				}
			}
			if d := cmp.Diff(map[string]entryState{user: tt.wantJournal}, states); d != "" {
				t.Fatalf("journal after the crash (-want +got):\n%s", d)
			}
			var sid string
			if info, _, ok := h.mach.User(user); ok != tt.wantUser {
				t.Fatalf("user exists after the crash: %v, want %v", ok, tt.wantUser)
			} else if ok {
				sid = info.SID
			}

			r := h.restart(t)
			if err := r.m.Reconcile(ctx, r.clk.Now()); err != nil {
				t.Fatalf("Reconcile after restart: %v", err)
			}
			if sid != "" {
				r.checkGone(t, user, sid)
			} else if slices.Contains(h.mach.LocalUsers(), user) {
				t.Errorf("user %s exists after recovery", user)
			}
			if d := cmp.Diff(map[string]entryState{user: stateRemoved}, journalStates(t, r.m.JournalPath())); d != "" {
				t.Errorf("journal after recovery (-want +got):\n%s", d)
			}
			if d := cmp.Diff([]EventKind{tt.wantEvent}, r.evs.kinds()); d != "" {
				t.Errorf("events after restart (-want +got):\n%s", d)
			}
		})
	}
}

// TestWinRestartAfterExpiry: the agent is down when the account expires;
// the next start removes it, logging its user off.
func TestWinRestartAfterExpiry(t *testing.T) {
	h := newWin(t)
	a := h.create(t)
	sid := h.sid(t, a.Username)
	session := h.mach.Logon(a.Username)
	h.clk.Advance(2 * time.Hour)

	r := h.restart(t)
	if err := r.m.Reconcile(context.Background(), r.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := r.mach.Calls("WTSLogoffSession"); !slices.Equal(got, []string{fmt.Sprintf("WTSLogoffSession(%d)", session)}) {
		t.Errorf("log-offs %v, want session %d", got, session)
	}
	r.checkGone(t, a.Username, sid)
	if d := cmp.Diff([]EventKind{EventUsed, EventExpired}, r.evs.kinds()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

// TestWinRebootStaleJournal: the machine rebooted while the agent was
// down (no sessions, no processes) and one account was deleted by hand
// meanwhile; the journal still lists both as created.
func TestWinRebootStaleJournal(t *testing.T) {
	h := newWin(t)
	a := h.create(t)
	b := h.create(t)
	sidA := h.sid(t, a.Username)
	h.mach.Logon(a.Username)
	if err := h.mach.UserDel(b.Username); err != nil {
		t.Fatal(err)
	}
	h.mach.Reboot()
	h.clk.Advance(2 * time.Hour)
	h.mach.ResetCalls()

	r := h.restart(t)
	// As on Linux, the usage check of the vanished account is reported
	// (once: the entry is then marked removed); nothing else fails.
	err := r.m.Reconcile(context.Background(), r.clk.Now())
	if !errors.Is(err, winlocal.NERRUserNotFound) || !strings.Contains(err.Error(), "usage of "+b.Username+":") ||
		strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("Reconcile = %v, want only the usage error of %s", err, b.Username)
	}
	if err := r.m.Reconcile(context.Background(), r.clk.Now()); err != nil {
		t.Fatalf("second Reconcile: %v", err)
	}
	if got := r.mach.Calls("WTSLogoffSession", "TerminateProcess"); len(got) != 0 {
		t.Errorf("nothing runs after a reboot, yet: %v", got)
	}
	if got := r.mach.Calls("NetUserDel"); !slices.Equal(got, []string{"NetUserDel(" + a.Username + ")"}) {
		t.Errorf("deletions %v, want only %s", got, a.Username)
	}
	r.checkGone(t, a.Username, sidA)
	want := map[string]entryState{a.Username: stateRemoved, b.Username: stateRemoved}
	if d := cmp.Diff(want, journalStates(t, r.m.JournalPath())); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]EventKind{EventUsed, EventExpired, EventExpired}, r.evs.kinds()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestWinCreateFailures(t *testing.T) {
	for _, tt := range []struct {
		name      string
		fn        string
		err       error
		wantErr   error
		wantCalls []string // functions called, in order, from NetUserAdd on
	}{
		{"no Administrators group", "LookupAccountSid", winlocal.ErrorNoneMapped, ErrNoAdminGroup, nil},
		{"password refused", "NetUserAdd", winlocal.NERRPasswordTooShort, ErrSystem,
			[]string{"NetUserAdd", "NetUserGetInfo"}},
		{"group add refused", "NetLocalGroupAddMembers", winlocal.ErrorAccessDenied, ErrSystem,
			[]string{"NetUserAdd", "NetUserSetInfo", "NetUserGetInfo", "NetLocalGroupAddMembers",
				"NetUserGetInfo", "NetUserSetInfo", "WTSEnumerateSessions", "NtQuerySystemInformation", "DeleteProfile", "NetUserDel"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newWin(t)
			h.mach.Fail(tt.fn, tt.err)
			_, err := h.m.Create(context.Background(), Spec{GrantID: "g", ExpiresAt: testStart.Add(time.Hour)})
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, tt.err) {
				t.Fatalf("Create = %v, want %v wrapping %v", err, tt.wantErr, tt.err)
			}
			var fns []string
			for _, c := range h.mach.Calls() {
				fn, _, _ := strings.Cut(c, "(")
				if fn != "LookupAccountSid" && fn != "LookupAccountName" && fn != "OpenProcessToken" {
					fns = append(fns, fn)
				}
			}
			if d := cmp.Diff(tt.wantCalls, fns); d != "" {
				t.Errorf("calls (-want +got):\n%s", d)
			}
			if u := h.mach.LocalUsers(); len(u) != 0 {
				t.Errorf("users left: %v", u)
			}
			if tt.wantCalls == nil {
				if _, err := os.Stat(h.m.JournalPath()); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("journal written without an account: %v", err)
				}
				return
			}
			for u, st := range journalStates(t, h.m.JournalPath()) {
				if st != stateRemoved {
					t.Errorf("journal: %s is %s, want removed", u, st)
				}
			}
			if d := cmp.Diff([]EventKind{EventCreateFailed}, h.evs.kinds()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

// TestWinUnkillableProcess: a process that cannot be terminated keeps the
// account (disabled, logged off) and the removal is retried until it goes.
func TestWinUnkillableProcess(t *testing.T) {
	h := newWin(t)
	a := h.create(t)
	sid := h.sid(t, a.Username)
	p := h.mach.Start(sid, winlocaltest.ProcOpts{Image: "stuck.exe", Unkillable: true})
	h.mach.ResetCalls()
	err := h.m.Revoke(context.Background(), a.Username)
	if !errors.Is(err, ErrSystem) || !errors.Is(err, winlocal.ErrorAccessDenied) {
		t.Fatalf("Revoke = %v, want ErrSystem wrapping access denied", err)
	}
	if n := len(h.mach.Calls("TerminateProcess")); n != killRounds {
		t.Errorf("%d TerminateProcess calls, want %d rounds", n, killRounds)
	}
	info, _, ok := h.mach.User(a.Username)
	if !ok || info.Flags&winlocal.UFAccountDisable == 0 {
		t.Fatalf("account after a failed removal: exists %v, flags %s; want it kept, disabled", ok, winlocaltest.FlagNames(info.Flags))
	}
	if d := cmp.Diff([]EventKind{EventCreated, EventRemoveFailed}, h.evs.kinds()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}

	h.mach.Exit(p.PID)
	if err := h.m.Revoke(context.Background(), a.Username); err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	h.checkGone(t, a.Username, sid)
	// Already disabled: not set again.
	if got := h.mach.Calls("NetUserSetInfo"); len(got) != 1 {
		t.Errorf("NetUserSetInfo calls %v, want the first removal's only", got)
	}
}

// TestWinProfileLeftBehind: a profile DeleteProfile refuses does not keep
// the administrator account alive.
func TestWinProfileLeftBehind(t *testing.T) {
	h := newWin(t)
	a := h.create(t)
	sid := h.sid(t, a.Username)
	h.mach.Logon(a.Username)
	h.mach.Fail("DeleteProfile", winlocal.ErrorAccessDenied)
	if err := h.m.Revoke(context.Background(), a.Username); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if slices.Contains(h.mach.LocalUsers(), a.Username) || h.mach.IsAdmin(sid) {
		t.Fatal("account kept because its profile could not be deleted")
	}
	if !h.mach.HasProfile(sid) {
		t.Error("the fake did not refuse the profile deletion; the test proves nothing")
	}
}

// TestWinRemoveIgnoresNamesakes: a directory user with the break-glass
// account's name, logged on with its own processes, is never logged off
// or killed: sessions and processes are matched by SID.
func TestWinRemoveIgnoresNamesakes(t *testing.T) {
	mach := winlocaltest.New()
	sid := mach.AddUser("ph-namesake", true)
	domSID := mach.AddDomainUser("ph-namesake")
	domSession := mach.Logon(winlocaltest.Domain + `\ph-namesake`)
	mach.Logon("ph-namesake")
	ws := newWinSystem(mach, slog.New(slog.DiscardHandler))
	ws.pause = func(context.Context) error { return nil }
	if err := ws.remove(context.Background(), "ph-namesake"); err != nil {
		t.Fatal(err)
	}
	if got := mach.SessionsOf("ph-namesake"); !slices.Equal(got, []uint32{domSession}) {
		t.Errorf("sessions left %v, want the domain user's %d", got, domSession)
	}
	if got := mach.ProcessesOf(domSID); len(got) != 1 {
		t.Errorf("domain user's processes %v, want its explorer.exe", got)
	}
	if len(mach.ProcessesOf(sid)) != 0 || mach.IsAdmin(sid) || slices.Contains(mach.LocalUsers(), "ph-namesake") {
		t.Error("the local account was not removed")
	}
}

func TestWinExists(t *testing.T) {
	mach := winlocaltest.New()
	mach.AddUser("bob", false)
	mach.AddDomainUser("carol")
	ws := newWinSystem(mach, slog.New(slog.DiscardHandler))
	for name, want := range map[string]bool{"bob": true, "carol": true, "Administratoren": true, "nobody": false} {
		if got, err := ws.exists(context.Background(), name); err != nil || got != want {
			t.Errorf("exists(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	mach.Fail("LookupAccountName", winlocal.ErrorAccessDenied)
	if _, err := ws.exists(context.Background(), "x"); !errors.Is(err, ErrSystem) {
		t.Errorf("exists with a failing lookup = %v, want ErrSystem", err)
	}
}
