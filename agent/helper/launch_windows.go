package helper

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"
)

// NewSessionLauncher is the SessionLauncher of the Windows service.
func NewSessionLauncher() SessionLauncher { return SessionLauncher{api: realWin32{}} }

// realWin32 makes the calls of win32.
type realWin32 struct{}

func (realWin32) ActiveConsoleSessionID() uint32 { return windows.WTSGetActiveConsoleSessionId() }

func (realWin32) QueryUserToken(session uint32) (uintptr, error) {
	var t windows.Token
	if err := windows.WTSQueryUserToken(session, &t); err != nil {
		if errors.Is(err, windows.ERROR_NO_TOKEN) {
			return 0, fmt.Errorf("%w (session %d)", ErrNoUser, session)
		}
		return 0, err
	}
	return uintptr(t), nil
}

func (realWin32) DuplicatePrimary(token uintptr) (uintptr, error) {
	var p windows.Token
	err := windows.DuplicateTokenEx(windows.Token(token), windows.MAXIMUM_ALLOWED, nil,
		windows.SecurityIdentification, windows.TokenPrimary, &p)
	return uintptr(p), err
}

func (realWin32) TokenUserSID(token uintptr) (string, error) {
	u, err := windows.Token(token).GetTokenUser()
	if err != nil {
		return "", err
	}
	return u.User.Sid.String(), nil
}

func (realWin32) EnvironmentBlock(token uintptr) ([]string, error) {
	var block *uint16
	if err := windows.CreateEnvironmentBlock(&block, windows.Token(token), false); err != nil {
		return nil, err
	}
	defer windows.DestroyEnvironmentBlock(block)
	var env []string
	for p := unsafe.Pointer(block); ; {
		s := windows.UTF16PtrToString((*uint16)(p))
		if s == "" {
			return env, nil
		}
		env = append(env, s)
		p = unsafe.Add(p, (len(utf16.Encode([]rune(s)))+1)*2)
	}
}

func (realWin32) CreateProcessAsUser(token uintptr, ps ProcessSpec) (Process, error) {
	app, err := windows.UTF16PtrFromString(ps.App)
	if err != nil {
		return nil, err
	}
	line, err := windows.UTF16PtrFromString(ps.CommandLine)
	if err != nil {
		return nil, err
	}
	desktop, err := windows.UTF16PtrFromString(ps.Desktop)
	if err != nil {
		return nil, err
	}
	block := envBlock(ps.Env)
	si := windows.StartupInfo{Desktop: desktop}
	si.Cb = uint32(unsafe.Sizeof(si))
	var pi windows.ProcessInformation
	if err := windows.CreateProcessAsUser(windows.Token(token), app, line, nil, nil, false, ps.Flags,
		&block[0], nil, &si, &pi); err != nil {
		return nil, err
	}
	windows.CloseHandle(pi.Thread)
	p := &winProcess{h: pi.Process, pid: pi.ProcessId, done: make(chan struct{})}
	go func() {
		_, _ = windows.WaitForSingleObject(p.h, windows.INFINITE)
		close(p.done)
	}()
	return p, nil
}

func (realWin32) CloseHandle(h uintptr) { windows.CloseHandle(windows.Handle(h)) }

// envBlock is env as a CREATE_UNICODE_ENVIRONMENT block: NUL-terminated
// strings and a final NUL.
func envBlock(env []string) []uint16 {
	var b []uint16
	for _, kv := range env {
		if u, err := windows.UTF16FromString(kv); err == nil { // a NUL inside: left out
			b = append(b, u...)
		}
	}
	return append(b, 0)
}

// winProcess is a process started by CreateProcessAsUser.
type winProcess struct {
	h    windows.Handle
	pid  uint32
	done chan struct{}
	once sync.Once
}

func (p *winProcess) PID() uint32           { return p.pid }
func (p *winProcess) Done() <-chan struct{} { return p.done }

// Kill terminates the helper; the handle is closed once it has exited.
func (p *winProcess) Kill() error {
	select {
	case <-p.done:
	default:
		_ = windows.TerminateProcess(p.h, 1)
		<-p.done
	}
	p.once.Do(func() { windows.CloseHandle(p.h) })
	return nil
}
