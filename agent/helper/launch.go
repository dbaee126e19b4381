package helper

import (
	"errors"
	"fmt"
	"sync"

	"porthole/agent/winlocal"
)

// Starting the helper in the console user's session, as the Windows
// service (SYSTEM, session 0) must: the sequence of calls is decided here,
// in plain Go, and unit-tested against a fake of them (launch_test.go);
// launch_windows.go makes the real calls.

// win32 is what SessionLauncher calls (wtsapi32, advapi32, userenv,
// kernel32).
type win32 interface {
	// ActiveConsoleSessionID is WTSGetActiveConsoleSessionId.
	ActiveConsoleSessionID() uint32
	// QueryUserToken is WTSQueryUserToken: the session user's token
	// (ErrNoUser when nobody is logged on there).
	QueryUserToken(session uint32) (uintptr, error)
	// DuplicatePrimary is DuplicateTokenEx(MAXIMUM_ALLOWED, nil,
	// SecurityIdentification, TokenPrimary): CreateProcessAsUser needs a
	// primary token.
	DuplicatePrimary(token uintptr) (uintptr, error)
	// TokenUserSID is the token's user (GetTokenInformation TokenUser).
	TokenUserSID(token uintptr) (string, error)
	// EnvironmentBlock is CreateEnvironmentBlock(token, inherit FALSE):
	// the user's own environment, nothing of SYSTEM's.
	EnvironmentBlock(token uintptr) ([]string, error)
	// CreateProcessAsUser starts p with token.
	CreateProcessAsUser(token uintptr, p ProcessSpec) (Process, error)
	CloseHandle(h uintptr)
}

// ProcessSpec is what CreateProcessAsUser is given.
type ProcessSpec struct {
	// App is lpApplicationName: the exe's full path, so the command line
	// is never searched for a program.
	App string
	// CommandLine is lpCommandLine, quoted by winlocal.CommandLine.
	CommandLine string
	// Desktop is STARTUPINFO.lpDesktop: the interactive window station's
	// default desktop, where the user's windows are.
	Desktop string
	// Env is the environment block (CREATE_UNICODE_ENVIRONMENT).
	Env []string
	// Flags are the creation flags.
	Flags uint32
}

// The helper's desktop and creation flags.
const (
	Desktop = `winsta0\default`
	// CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW: no console window in
	// the user's session.
	CreateFlags = 0x00000400 | 0x08000000
	// noConsole is WTSGetActiveConsoleSessionId's "no session attached".
	noConsole = 0xFFFFFFFF
)

// SessionLauncher starts helpers in the console user's session with that
// user's token.
type SessionLauncher struct{ api win32 }

// Console is the session attached to the console. Session 0 holds the
// services, never a user.
func (l SessionLauncher) Console() (uint32, bool) {
	id := l.api.ActiveConsoleSessionID()
	return id, id != noConsole && id != 0
}

// User opens the token of session's user as a primary token.
func (l SessionLauncher) User(session uint32) (User, error) {
	imp, err := l.api.QueryUserToken(session)
	if err != nil {
		if errors.Is(err, ErrNoUser) {
			return nil, err
		}
		return nil, fmt.Errorf("WTSQueryUserToken(%d): %w", session, err)
	}
	defer l.api.CloseHandle(imp)
	tok, err := l.api.DuplicatePrimary(imp)
	if err != nil {
		return nil, fmt.Errorf("DuplicateTokenEx: %w", err)
	}
	sid, err := l.api.TokenUserSID(tok)
	if err != nil {
		l.api.CloseHandle(tok)
		return nil, fmt.Errorf("token user: %w", err)
	}
	return &sessionUser{api: l.api, tok: tok, sid: sid}, nil
}

type sessionUser struct {
	api  win32
	tok  uintptr
	sid  string
	once sync.Once
}

func (u *sessionUser) SID() string { return u.sid }

// Start starts exe with args in the user's session, on its desktop, with
// the user's environment.
func (u *sessionUser) Start(exe string, args []string) (Process, error) {
	env, err := u.api.EnvironmentBlock(u.tok)
	if err != nil {
		return nil, fmt.Errorf("CreateEnvironmentBlock: %w", err)
	}
	p, err := u.api.CreateProcessAsUser(u.tok, ProcessSpec{App: exe, CommandLine: winlocal.CommandLine(append([]string{exe}, args...)...),
		Desktop: Desktop, Env: env, Flags: CreateFlags})
	if err != nil {
		return nil, fmt.Errorf("CreateProcessAsUser: %w", err)
	}
	return p, nil
}

func (u *sessionUser) Close() error {
	u.once.Do(func() { u.api.CloseHandle(u.tok) })
	return nil
}
