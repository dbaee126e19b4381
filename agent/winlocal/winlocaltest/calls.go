package winlocaltest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"porthole/agent/winlocal"
)

// The Win32 calls, with the method set of winlocal.Win32. Each records
// itself as "Function(args)" under the Win32 function's name; passwords
// are never recorded.

// LookupSID is LookupAccountSid.
func (m *Machine) LookupSID(sid string) (a winlocal.Account, err error) {
	err = m.call("LookupAccountSid", sid, func() error {
		switch sid {
		case SystemSID:
			a = winlocal.Account{Name: "SYSTEM", Domain: "NT-AUTORITÄT", SID: sid, Type: winlocal.SidTypeWellKnownGroup}
			return nil
		}
		for _, g := range m.groups {
			if g.sid == sid {
				a = winlocal.Account{Name: g.name, Domain: "VORDEFINIERT", SID: sid, Type: winlocal.SidTypeAlias}
				return nil
			}
		}
		for _, u := range m.users {
			if u.info.SID == sid {
				a = winlocal.Account{Name: u.info.Name, Domain: u.domain, SID: sid, Type: winlocal.SidTypeUser}
				return nil
			}
		}
		return winlocal.ErrorNoneMapped
	})
	return a, err
}

// LookupName is LookupAccountName: "name" searches the machine's users
// and groups, then the directory domain; "DOMAIN\name" only that domain.
func (m *Machine) LookupName(name string) (a winlocal.Account, err error) {
	err = m.call("LookupAccountName", name, func() error {
		domain, bare, qualified := strings.Cut(name, `\`)
		if !qualified {
			domain, bare = "", name
		}
		if domain == "" || strings.EqualFold(domain, "VORDEFINIERT") {
			for _, g := range m.groups {
				if strings.EqualFold(g.name, bare) {
					a = winlocal.Account{Name: g.name, Domain: "VORDEFINIERT", SID: g.sid, Type: winlocal.SidTypeAlias}
					return nil
				}
			}
		}
		u := m.users[userKey(domain, bare)]
		if domain == "" {
			// Unqualified: the machine's own accounts first, then the domain's.
			if u = m.users[userKey(Computer, bare)]; u == nil {
				u = m.users[userKey(Domain, bare)]
			}
		}
		if u == nil {
			return winlocal.ErrorNoneMapped
		}
		a = winlocal.Account{Name: u.info.Name, Domain: u.domain, SID: u.info.SID, Type: winlocal.SidTypeUser}
		return nil
	})
	return a, err
}

// localUserLocked returns the local (not domain) user called name.
func (m *Machine) localUserLocked(name string) *user {
	return m.users[userKey(Computer, name)]
}

// UserAdd is NetUserAdd at level 1.
func (m *Machine) UserAdd(nu winlocal.NewUser) error {
	args := fmt.Sprintf("level=1, name=%s, priv=%d, flags=%s, comment=%q", nu.Name, nu.Priv, FlagNames(nu.Flags), nu.Comment)
	return m.call("NetUserAdd", args, func() error {
		switch {
		case nu.Flags&winlocal.UFScript == 0 || nu.Priv != winlocal.UserPrivUser:
			return winlocal.ErrorInvalidParameter // level 1 requires both
		case len(nu.Password) < MinPassword:
			return winlocal.NERRPasswordTooShort
		case m.localUserLocked(nu.Name) != nil:
			return winlocal.NERRUserExists
		}
		for _, g := range m.groups {
			if strings.EqualFold(g.name, nu.Name) {
				return errNERRGroupExists
			}
		}
		u := m.addUserLocked(nu.Name, Computer, localSIDPrefix)
		u.info.Flags = nu.Flags
		u.password = nu.Password
		u.comment = nu.Comment
		return nil
	})
}

// UserGetInfo is NetUserGetInfo at levels 2 and 23.
func (m *Machine) UserGetInfo(name string) (info winlocal.UserInfo, err error) {
	err = m.call("NetUserGetInfo", name, func() error {
		u := m.localUserLocked(name)
		if u == nil {
			return winlocal.NERRUserNotFound
		}
		info = u.info
		return nil
	})
	return info, err
}

// UserSetFlags is NetUserSetInfo at level 1008.
func (m *Machine) UserSetFlags(name string, flags uint32) error {
	return m.call("NetUserSetInfo", fmt.Sprintf("level=1008, name=%s, flags=%s", name, FlagNames(flags)), func() error {
		u := m.localUserLocked(name)
		if u == nil {
			return winlocal.NERRUserNotFound
		}
		if flags&winlocal.UFScript == 0 {
			return winlocal.ErrorInvalidParameter
		}
		u.info.Flags = flags
		return nil
	})
}

// UserSetExpires is NetUserSetInfo at level 1017.
func (m *Machine) UserSetExpires(name string, at time.Time) error {
	return m.call("NetUserSetInfo", fmt.Sprintf("level=1017, name=%s, acct_expires=%s", name, at.UTC().Format(time.RFC3339)), func() error {
		u := m.localUserLocked(name)
		if u == nil {
			return winlocal.NERRUserNotFound
		}
		u.expires = at
		return nil
	})
}

// UserDel is NetUserDel; the SAM drops the user from every local group.
func (m *Machine) UserDel(name string) error {
	return m.call("NetUserDel", name, func() error {
		u := m.localUserLocked(name)
		if u == nil {
			return winlocal.NERRUserNotFound
		}
		delete(m.users, userKey(Computer, name))
		for _, g := range m.groups {
			g.members = slices.DeleteFunc(g.members, func(s string) bool { return s == u.info.SID })
		}
		return nil
	})
}

func (m *Machine) groupLocked(name string) *group {
	for _, g := range m.groups {
		if strings.EqualFold(g.name, name) {
			return g
		}
	}
	return nil
}

func (m *Machine) knownSIDLocked(sid string) bool {
	for _, u := range m.users {
		if u.info.SID == sid {
			return true
		}
	}
	return false
}

// LocalGroupAddMember is NetLocalGroupAddMembers at level 0 (by SID).
func (m *Machine) LocalGroupAddMember(groupName, sid string) error {
	return m.call("NetLocalGroupAddMembers", groupName+", "+sid, func() error {
		g := m.groupLocked(groupName)
		switch {
		case g == nil:
			return winlocal.NERRGroupNotFound
		case !m.knownSIDLocked(sid):
			return winlocal.ErrorNoSuchMember
		case slices.Contains(g.members, sid):
			return winlocal.ErrorMemberInAlias
		}
		g.members = append(g.members, sid)
		return nil
	})
}

// LocalGroupDelMember is NetLocalGroupDelMembers at level 0 (by SID).
func (m *Machine) LocalGroupDelMember(groupName, sid string) error {
	return m.call("NetLocalGroupDelMembers", groupName+", "+sid, func() error {
		g := m.groupLocked(groupName)
		switch {
		case g == nil:
			return winlocal.NERRGroupNotFound
		case !slices.Contains(g.members, sid):
			return winlocal.ErrorMemberNotInAlias
		}
		g.members = slices.DeleteFunc(g.members, func(s string) bool { return s == sid })
		return nil
	})
}

// LocalGroupMembers is NetLocalGroupGetMembers at level 0.
func (m *Machine) LocalGroupMembers(groupName string) (sids []string, err error) {
	err = m.call("NetLocalGroupGetMembers", groupName, func() error {
		g := m.groupLocked(groupName)
		if g == nil {
			return winlocal.NERRGroupNotFound
		}
		sids = slices.Clone(g.members)
		return nil
	})
	return sids, err
}

// DeleteProfile is userenv's DeleteProfileW by SID string. A profile in
// use (its user has a session) cannot be deleted.
func (m *Machine) DeleteProfile(sid string) error {
	return m.call("DeleteProfile", sid, func() error {
		if !m.profiles[sid] {
			return winlocal.ErrorFileNotFound
		}
		for _, s := range m.sessions {
			if u := m.users[userKey(s.Domain, s.User)]; u != nil && u.info.SID == sid {
				return winlocal.ErrorAccessDenied
			}
		}
		delete(m.profiles, sid)
		return nil
	})
}

// Sessions is WTSEnumerateSessions with WTSQuerySessionInformation
// (WTSUserName, WTSDomainName) of each session.
func (m *Machine) Sessions() (out []winlocal.Session, err error) {
	err = m.call("WTSEnumerateSessions", "", func() error {
		for _, s := range m.sessions {
			out = append(out, *s)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		return nil
	})
	return out, err
}

// Logoff is WTSLogoffSession with bWait: the session and its processes end.
func (m *Machine) Logoff(id uint32) error {
	return m.call("WTSLogoffSession", fmt.Sprint(id), func() error {
		if _, ok := m.sessions[id]; !ok || id == 0 {
			return winlocal.ErrorInvalidParameter
		}
		delete(m.sessions, id)
		for pid, p := range m.procs {
			if p.p.SessionID == id {
				delete(m.procs, pid)
			}
		}
		return nil
	})
}

// Processes is NtQuerySystemInformation(SystemProcessInformation).
func (m *Machine) Processes() (out []winlocal.Process, err error) {
	err = m.call("NtQuerySystemInformation", "SystemProcessInformation", func() error {
		for _, p := range m.procs {
			out = append(out, p.p)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
		return nil
	})
	return out, err
}

// procLocked finds p by PID and creation time.
func (m *Machine) procLocked(p winlocal.Process) (*proc, error) {
	q := m.procs[p.PID]
	if q == nil || q.p.Created != p.Created {
		return nil, winlocal.ErrGone
	}
	return q, nil
}

// Token is OpenProcess + OpenProcessToken + GetTokenInformation.
func (m *Machine) Token(p winlocal.Process) (t winlocal.Token, err error) {
	err = m.call("OpenProcessToken", fmt.Sprint(p.PID), func() error {
		q, err := m.procLocked(p)
		if err != nil {
			return err
		}
		if q.protected {
			return winlocal.ErrorAccessDenied
		}
		t = q.tok
		return nil
	})
	return t, err
}

// Detail is QueryFullProcessImageName and the command line.
func (m *Machine) Detail(p winlocal.Process) (d winlocal.Detail, err error) {
	err = m.call("QueryFullProcessImageName", fmt.Sprint(p.PID), func() error {
		q, err := m.procLocked(p)
		if err != nil {
			return err
		}
		d = q.detail
		d.Args = slices.Clone(d.Args)
		return nil
	})
	return d, err
}

// Terminate is TerminateProcess of p, only if its token user is sid.
func (m *Machine) Terminate(p winlocal.Process, sid string) error {
	return m.call("TerminateProcess", fmt.Sprint(p.PID), func() error {
		q, err := m.procLocked(p)
		switch {
		case err != nil:
			return err
		case q.tok.User != sid:
			return winlocal.ErrNotOwner
		case q.unkillable:
			return winlocal.ErrorAccessDenied
		}
		delete(m.procs, p.PID)
		return nil
	})
}

// Inspection, for assertions (not recorded as calls).

// User returns the local user called name, its password and comment.
func (m *Machine) User(name string) (info winlocal.UserInfo, password string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.localUserLocked(name)
	if u == nil {
		return winlocal.UserInfo{}, "", false
	}
	return u.info, u.password, true
}

// Expires returns the account expiry set on a local user.
func (m *Machine) Expires(name string) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u := m.localUserLocked(name); u != nil {
		return u.expires
	}
	return time.Time{}
}

// LocalUsers lists the names of the local users.
func (m *Machine) LocalUsers() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, u := range m.users {
		if u.domain == Computer {
			out = append(out, u.info.Name)
		}
	}
	slices.Sort(out)
	return out
}

// IsAdmin reports whether sid is a member of Administrators.
func (m *Machine) IsAdmin(sid string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.groups[0].members, sid)
}

// AddAdmin makes sid a member of Administrators directly (as another
// administrator would), without recording a call.
func (m *Machine) AddAdmin(sid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.groups[0].members, sid) {
		m.groups[0].members = append(m.groups[0].members, sid)
	}
}

// HasProfile reports whether sid has a profile.
func (m *Machine) HasProfile(sid string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.profiles[sid]
}

// SessionsOf lists the ids of name's sessions.
func (m *Machine) SessionsOf(name string) []uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []uint32
	for id, s := range m.sessions {
		if strings.EqualFold(s.User, name) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// ProcessesOf lists the PIDs of the processes running as sid.
func (m *Machine) ProcessesOf(sid string) []uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []uint32
	for pid, p := range m.procs {
		if p.tok.User == sid {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}
