// Package winlocaltest is a hand-written fake of the Windows calls in
// agent/winlocal: a small simulated machine with local users, groups,
// profiles, logon sessions and processes, which behaves the way Windows
// documents (error codes, SAM removing a deleted user from its groups, a
// log-off ending the session's processes) and records every call in order.
//
// Tests of agent/accounts and agent/elevation drive their Windows code
// against it on any OS. It can fail a call, make a call succeed without
// effect, or stop the calling goroutine before or after a call
// (CrashBefore, CrashAfter), which is what a crash or power cut leaves
// behind; Reboot ends every session and process but keeps the accounts.
//
// Its Administrators group has a non-English name by default, so code that
// uses the English name instead of the SID fails against it.
package winlocaltest

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"porthole/agent/winlocal"
)

// Defaults of a new Machine.
const (
	// Computer is the machine's name: the domain of its local accounts.
	Computer = "PC1"
	// Domain is the directory domain AddDomainUser puts users in.
	Domain = "CORP"
	// AdminsName is the localised name of BUILTIN\Administrators.
	AdminsName = "Administratoren"
	// MinPassword is the machine's minimum password length.
	MinPassword = 14
	// SystemSID is NT AUTHORITY\SYSTEM.
	SystemSID = "S-1-5-18"
	// localSIDPrefix starts the SIDs of local accounts (machine SID).
	localSIDPrefix = "S-1-5-21-1004336348-1177238915-682003330-"
	// domainSIDPrefix starts the SIDs of AddDomainUser's users.
	domainSIDPrefix = "S-1-5-21-3623811015-3361044348-30300820-"
)

// bootTime is when the fake machine's processes are created from.
var bootTime = time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)

// errNERRGroupExists is NERR_GroupExists: NetUserAdd of a group's name.
const errNERRGroupExists winlocal.Errno = 2223

type user struct {
	info     winlocal.UserInfo
	password string
	comment  string
	expires  time.Time
	domain   string // Computer for local users
}

type group struct {
	name    string
	sid     string
	members []string // SIDs
}

type proc struct {
	p          winlocal.Process
	tok        winlocal.Token
	detail     winlocal.Detail
	protected  bool
	unkillable bool
}

// Machine is the fake. The zero value is not usable: call New.
type Machine struct {
	mu       sync.Mutex
	calls    []string                     // guarded by mu
	hooks    []hook                       // guarded by mu
	onCall   func(call string)            // guarded by mu
	users    map[string]*user             // guarded by mu; by userKey
	groups   []*group                     // guarded by mu
	profiles map[string]bool              // guarded by mu; by SID
	sessions map[uint32]*winlocal.Session // guarded by mu
	procs    map[uint32]*proc             // guarded by mu
	nextRID  int                          // guarded by mu
	nextPID  uint32                       // guarded by mu
	nextSess uint32                       // guarded by mu
	ticks    int64                        // guarded by mu; creation times handed out
}

type hookKind int

const (
	hookFail hookKind = iota
	hookNoEffect
	hookCrashBefore
	hookCrashAfter
)

type hook struct {
	fn   string
	kind hookKind
	err  error
}

// New returns a freshly booted machine with the Administrators group (named
// AdminsName), SYSTEM's processes, and no users.
func New() *Machine {
	m := &Machine{
		users:    map[string]*user{},
		profiles: map[string]bool{},
		nextRID:  1001,
		groups: []*group{
			{name: AdminsName, sid: winlocal.AdministratorsSID},
			{name: "Benutzer", sid: "S-1-5-32-545"},
		},
	}
	m.bootLocked()
	return m
}

// bootLocked starts the machine's own sessions and processes.
func (m *Machine) bootLocked() {
	m.sessions = map[uint32]*winlocal.Session{0: {ID: 0, State: 4}} // services, WTSDisconnected
	m.procs = map[uint32]*proc{}
	m.nextPID = 4
	m.nextSess = 1
	m.ticks = winlocal.TimeToFiletime(bootTime)
	sys := winlocal.Token{User: SystemSID, Elevated: true, ElevationType: winlocal.ElevationTypeDefault}
	m.startLocked(sys, ProcOpts{Image: "System", Protected: true, Unkillable: true})
	m.startLocked(sys, ProcOpts{Image: "services.exe", Path: `C:\Windows\System32\services.exe`, Unkillable: true})
}

// ProcOpts describes a process Start creates.
type ProcOpts struct {
	// Image is the base name; Path the full path (default
	// C:\Windows\System32\Image); Args the command line.
	Image string
	Path  string
	Args  []string
	// Elevated gives the process a full token (TokenElevationTypeFull).
	Elevated bool
	// Session is the logon session it runs in (0: services).
	Session uint32
	PPID    uint32
	// PID, if set, is the PID to use (a reused PID).
	PID uint32
	// Protected makes its token unreadable (access denied), like csrss.
	Protected bool
	// Unkillable makes TerminateProcess fail with access denied.
	Unkillable bool
}

// Start creates a process running as sid and returns it as the process
// list shows it.
func (m *Machine) Start(sid string, o ProcOpts) winlocal.Process {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := winlocal.Token{User: sid, Elevated: o.Elevated, ElevationType: winlocal.ElevationTypeLimited}
	if o.Elevated {
		t.ElevationType = winlocal.ElevationTypeFull
	}
	return m.startLocked(t, o)
}

func (m *Machine) startLocked(t winlocal.Token, o ProcOpts) winlocal.Process {
	pid := o.PID
	if pid == 0 {
		pid = m.nextPID
		m.nextPID += 4
	}
	m.ticks += int64(time.Second / 100) // 1 s apart, in FILETIME ticks
	if o.Path == "" {
		o.Path = `C:\Windows\System32\` + o.Image
	}
	p := &proc{
		p:          winlocal.Process{PID: pid, PPID: o.PPID, Created: m.ticks, Image: o.Image, SessionID: o.Session},
		tok:        t,
		detail:     winlocal.Detail{Path: o.Path, Args: slices.Clone(o.Args)},
		protected:  o.Protected,
		unkillable: o.Unkillable,
	}
	m.procs[pid] = p
	return p.p
}

// Exit ends a process.
func (m *Machine) Exit(pid uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.procs, pid)
}

// AddUser creates a local user (with a profile, as if it had logged on
// once) and returns its SID; admin makes it a member of Administrators.
func (m *Machine) AddUser(name string, admin bool) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.addUserLocked(name, Computer, localSIDPrefix)
	u.info.LastLogon = bootTime.Add(-24 * time.Hour)
	u.info.NumLogons = 1
	m.profiles[u.info.SID] = true
	if admin {
		m.groups[0].members = append(m.groups[0].members, u.info.SID)
	}
	return u.info.SID
}

// AddDomainUser creates a user of the directory domain (Domain) and
// returns its SID: LookupAccountName of the bare name finds it.
func (m *Machine) AddDomainUser(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addUserLocked(name, Domain, domainSIDPrefix).info.SID
}

func (m *Machine) addUserLocked(name, domain, prefix string) *user {
	u := &user{domain: domain, info: winlocal.UserInfo{
		Name: name, SID: fmt.Sprintf("%s%d", prefix, m.nextRID),
		Flags: winlocal.UFScript | winlocal.UFNormalAccount,
	}}
	m.nextRID++
	m.users[userKey(domain, name)] = u
	return u
}

// userKey is DOMAIN\name in lower case.
func userKey(domain, name string) string { return strings.ToLower(domain + `\` + name) }

// Logon logs name (a local user, or DOMAIN\name) on interactively: a new
// active session, its last logon recorded, its profile created and
// explorer.exe started in the session. It returns the session id.
func (m *Machine) Logon(name string) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	domain, bare, ok := strings.Cut(name, `\`)
	if !ok {
		domain, bare = Computer, name
	}
	u := m.users[userKey(domain, bare)]
	if u == nil {
		panic("winlocaltest: Logon of unknown user " + name)
	}
	id := m.nextSess
	m.nextSess++
	m.sessions[id] = &winlocal.Session{ID: id, State: 0, User: u.info.Name, Domain: u.domain} // WTSActive
	u.info.LastLogon = winlocal.FiletimeToTime(m.ticks).Truncate(time.Second)
	u.info.NumLogons++
	m.profiles[u.info.SID] = true
	m.startLocked(winlocal.Token{User: u.info.SID, ElevationType: winlocal.ElevationTypeLimited},
		ProcOpts{Image: "explorer.exe", Path: `C:\Windows\explorer.exe`, Session: id})
	return id
}

// Reboot ends every session and process and boots again; accounts,
// groups and profiles stay, as on disk.
func (m *Machine) Reboot() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bootLocked()
}

// Calls returns the calls made so far, in order, as "Func(args)"; with
// names, only calls of those functions.
func (m *Machine) Calls(names ...string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(names) == 0 {
		return slices.Clone(m.calls)
	}
	var out []string
	for _, c := range m.calls {
		fn, _, _ := strings.Cut(c, "(")
		if slices.Contains(names, fn) {
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls forgets the calls recorded so far.
func (m *Machine) ResetCalls() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = nil
}

// OnCall sets f to run before every call with its record, outside the
// machine's lock (so f may inspect the machine or the caller's files); nil
// removes it.
func (m *Machine) OnCall(f func(call string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onCall = f
}

// Fail makes the next call of fn (a Win32 function name, as in Calls)
// return err without effect.
func (m *Machine) Fail(fn string, err error) { m.addHook(hook{fn: fn, kind: hookFail, err: err}) }

// NoEffect makes the next call of fn report success without doing
// anything.
func (m *Machine) NoEffect(fn string) { m.addHook(hook{fn: fn, kind: hookNoEffect}) }

// CrashBefore makes the next call of fn stop the calling goroutine
// (runtime.Goexit) before it has any effect: run the code under test with
// RunUntilCrash.
func (m *Machine) CrashBefore(fn string) { m.addHook(hook{fn: fn, kind: hookCrashBefore}) }

// CrashAfter makes the next call of fn stop the calling goroutine right
// after its effect, before it returns.
func (m *Machine) CrashAfter(fn string) { m.addHook(hook{fn: fn, kind: hookCrashAfter}) }

func (m *Machine) addHook(h hook) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hooks = append(m.hooks, h)
}

// RunUntilCrash runs f in its own goroutine and reports whether it was
// stopped by a crash hook (or any runtime.Goexit) instead of returning.
func RunUntilCrash(f func()) (crashed bool) {
	done := make(chan bool)
	go func() {
		returned := false
		defer func() { done <- !returned }()
		f()
		returned = true
	}()
	return <-done
}

// call records fn(args), runs OnCall and the hooks, and runs effect under
// the lock unless a hook says otherwise.
func (m *Machine) call(fn, args string, effect func() error) error {
	m.mu.Lock()
	rec := fn + "(" + args + ")"
	m.calls = append(m.calls, rec)
	on := m.onCall
	var h *hook
	for i := range m.hooks {
		if m.hooks[i].fn == fn {
			hk := m.hooks[i]
			h = &hk
			m.hooks = slices.Delete(m.hooks, i, i+1)
			break
		}
	}
	m.mu.Unlock()
	if on != nil {
		on(rec)
	}
	if h != nil {
		switch h.kind {
		case hookFail:
			return h.err
		case hookNoEffect:
			return nil
		case hookCrashBefore:
			runtime.Goexit()
		}
	}
	m.mu.Lock()
	err := effect()
	m.mu.Unlock()
	if h != nil && h.kind == hookCrashAfter {
		runtime.Goexit()
	}
	return err
}

// FlagNames spells USER_INFO flags the way the calls record them.
func FlagNames(f uint32) string {
	names := []struct {
		bit  uint32
		name string
	}{
		{winlocal.UFScript, "UF_SCRIPT"}, {winlocal.UFAccountDisable, "UF_ACCOUNTDISABLE"},
		{winlocal.UFPasswdCantChange, "UF_PASSWD_CANT_CHANGE"}, {winlocal.UFNormalAccount, "UF_NORMAL_ACCOUNT"},
		{winlocal.UFDontExpirePasswd, "UF_DONT_EXPIRE_PASSWD"},
	}
	var out []string
	for _, n := range names {
		if f&n.bit != 0 {
			out = append(out, n.name)
			f &^= n.bit
		}
	}
	if f != 0 {
		out = append(out, fmt.Sprintf("%#x", f))
	}
	return strings.Join(out, "|")
}
