package accounts

// Break glass on Windows, written against the Win32 calls it makes so that
// what is called, in which order and with which arguments is unit-tested
// on any OS (winsystem_test.go, against winlocaltest.Machine).
// system_windows.go plugs in the real calls (winlocal.Win32).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"porthole/agent/winlocal"
)

// netapi is what break glass calls in netapi32, advapi32 and userenv.
type netapi interface {
	LookupSID(sid string) (winlocal.Account, error)
	LookupName(name string) (winlocal.Account, error)
	UserAdd(u winlocal.NewUser) error
	UserGetInfo(name string) (winlocal.UserInfo, error)
	UserSetFlags(name string, flags uint32) error
	UserSetExpires(name string, at time.Time) error
	UserDel(name string) error
	LocalGroupAddMember(group, sid string) error
	DeleteProfile(sid string) error
}

// wts is what break glass calls in wtsapi32.
type wts interface {
	Sessions() ([]winlocal.Session, error)
	Logoff(id uint32) error
}

// procs is what break glass needs to find and stop a user's processes.
type procs interface {
	Processes() ([]winlocal.Process, error)
	Token(p winlocal.Process) (winlocal.Token, error)
	Terminate(p winlocal.Process, sid string) error
}

// winAPI is the three together, as winlocal.Win32 provides them.
type winAPI interface {
	netapi
	wts
	procs
}

// Windows account settings.
const (
	// winComment is the account's description in Computer Management.
	winComment = "Porthole break glass: removed automatically at expiry"
	// winFlags: a normal account whose password never expires and cannot
	// be changed by the user (it is shown once and dies with the account).
	// NetUserAdd at level 1 requires UF_SCRIPT.
	winFlags = winlocal.UFScript | winlocal.UFNormalAccount | winlocal.UFDontExpirePasswd | winlocal.UFPasswdCantChange
)

// winSystem is the system of break glass on Windows.
type winSystem struct {
	api winAPI
	log *slog.Logger
	// pause waits between rounds of killing the user's processes.
	pause func(ctx context.Context) error
}

func newWinSystem(api winAPI, log *slog.Logger) *winSystem {
	pause := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(killPause):
			return nil
		}
	}
	return &winSystem{api: api, log: log, pause: pause}
}

// winErr wraps a failed call as ErrSystem, naming it.
func winErr(call string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrSystem, call, err)
}

// exists asks LookupAccountName: users and groups share the SAM's name
// space, and a directory account of the same name would make logons
// ambiguous, so any account found is a clash.
func (s *winSystem) exists(_ context.Context, name string) (bool, error) {
	_, err := s.api.LookupName(name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, winlocal.ErrorNoneMapped):
		return false, nil
	}
	return false, winErr("LookupAccountName "+name, err)
}

// adminGroup is the localised name of BUILTIN\Administrators, found by its
// SID.
func (s *winSystem) adminGroup(context.Context) (string, error) {
	name, err := winlocal.AdminsGroup(s.api)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoAdminGroup, err)
	}
	return name, nil
}

// create adds the user (NetUserAdd, level 1), sets its account expiry as a
// backstop Windows enforces even without the agent, and adds its SID to
// the administrators group. The Manager has journalled the name before, so
// a crash between these steps leaves an entry Reconcile removes.
func (s *winSystem) create(_ context.Context, name, password, group string, expires time.Time) error {
	u := winlocal.NewUser{Name: name, Password: password, Priv: winlocal.UserPrivUser, Comment: winComment, Flags: winFlags}
	if err := s.api.UserAdd(u); err != nil {
		return winErr("NetUserAdd "+name, err)
	}
	if err := s.api.UserSetExpires(name, expires); err != nil {
		return winErr("NetUserSetInfo 1017 "+name, err)
	}
	info, err := s.api.UserGetInfo(name)
	if err != nil {
		return winErr("NetUserGetInfo "+name, err)
	}
	if err := s.api.LocalGroupAddMember(group, info.SID); err != nil {
		return winErr("NetLocalGroupAddMembers "+group, err)
	}
	return nil
}

// remove disables the user, logs off its sessions, terminates its
// remaining processes, deletes its profile and then the user. The profile
// goes first because the SID comes from the SAM, which no longer gives it
// once the user is gone: a crash in between then retries with the user
// still there. A missing user is not an error.
func (s *winSystem) remove(ctx context.Context, name string) error {
	info, err := s.api.UserGetInfo(name)
	if errors.Is(err, winlocal.NERRUserNotFound) {
		return nil
	}
	if err != nil {
		return winErr("NetUserGetInfo "+name, err)
	}
	if info.Flags&winlocal.UFAccountDisable == 0 {
		if err := s.api.UserSetFlags(name, info.Flags|winlocal.UFAccountDisable|winlocal.UFScript); err != nil {
			return winErr("NetUserSetInfo 1008 "+name, err)
		}
	}
	sessions, err := s.sessionsOf(info.SID)
	if err != nil {
		return err
	}
	var logoffErrs []error
	for _, id := range sessions {
		if err := s.api.Logoff(id); err != nil {
			logoffErrs = append(logoffErrs, fmt.Errorf("session %d: %w", id, err))
		}
	}
	if err := s.killAll(ctx, info.SID); err != nil {
		return err
	}
	if len(logoffErrs) > 0 {
		// A session that ended by itself meanwhile is fine; one still
		// there is not.
		if left, err := s.sessionsOf(info.SID); err != nil || len(left) > 0 {
			return winErr("WTSLogoffSession "+name, errors.Join(logoffErrs...))
		}
	}
	// A profile that cannot be deleted (still loaded, say) must not keep
	// an administrator account alive: it is left behind and logged.
	if err := s.api.DeleteProfile(info.SID); err != nil &&
		!errors.Is(err, winlocal.ErrorFileNotFound) && !errors.Is(err, winlocal.ErrorPathNotFound) {
		s.log.Warn("profile of break-glass account left behind", "user", name, "sid", info.SID, "err", err)
	}
	if err := s.api.UserDel(name); err != nil && !errors.Is(err, winlocal.NERRUserNotFound) {
		return winErr("NetUserDel "+name, err)
	}
	return nil
}

// sessionsOf lists the logon sessions of sid. Sessions name their user as
// DOMAIN and user name; the pair is resolved to a SID so a directory user
// of the same name never matches.
func (s *winSystem) sessionsOf(sid string) ([]uint32, error) {
	all, err := s.api.Sessions()
	if err != nil {
		return nil, winErr("WTSEnumerateSessions", err)
	}
	var out []uint32
	for _, sess := range all {
		if sess.User == "" {
			continue
		}
		a, err := s.api.LookupName(winlocal.Account{Name: sess.User, Domain: sess.Domain}.Qualified())
		if err != nil {
			continue // the session's user went away meanwhile
		}
		if strings.EqualFold(a.SID, sid) {
			out = append(out, sess.ID)
		}
	}
	return out, nil
}

// processesOf lists the processes whose token user is sid. Processes that
// exit meanwhile or whose token cannot be read (protected system
// processes, which never run as a local user) are skipped.
func (s *winSystem) processesOf(sid string) ([]winlocal.Process, error) {
	all, err := s.api.Processes()
	if err != nil {
		return nil, winErr("NtQuerySystemInformation", err)
	}
	var out []winlocal.Process
	for _, p := range all {
		t, err := s.api.Token(p)
		if err != nil {
			continue
		}
		if strings.EqualFold(t.User, sid) {
			out = append(out, p)
		}
	}
	return out, nil
}

// killAll terminates sid's processes until none is left (a process may
// start another while we kill), giving up after killRounds.
func (s *winSystem) killAll(ctx context.Context, sid string) error {
	var last error
	for round := range killRounds {
		left, err := s.processesOf(sid)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		for _, p := range left {
			if err := s.api.Terminate(p, sid); err != nil && !errors.Is(err, winlocal.ErrGone) {
				last = fmt.Errorf("pid %d (%s): %w", p.PID, p.Image, err)
			}
		}
		if round < killRounds-1 {
			if err := s.pause(ctx); err != nil {
				return err
			}
		}
	}
	return winErr("TerminateProcess of "+sid, fmt.Errorf("processes left after %d rounds: %w", killRounds, last))
}

// usage: active when the user has a logon session or a process; logged in
// when the SAM counts a logon (usri2_last_logon, usri2_num_logons).
func (s *winSystem) usage(_ context.Context, name string) (active, loggedIn bool, err error) {
	info, err := s.api.UserGetInfo(name)
	if err != nil {
		return false, false, winErr("NetUserGetInfo "+name, err)
	}
	loggedIn = !info.LastLogon.IsZero() || info.NumLogons > 0
	sessions, err := s.sessionsOf(info.SID)
	if err != nil {
		return false, loggedIn, err
	}
	if len(sessions) > 0 {
		return true, loggedIn, nil
	}
	ps, err := s.processesOf(info.SID)
	if err != nil {
		return false, loggedIn, err
	}
	return len(ps) > 0, loggedIn, nil
}
