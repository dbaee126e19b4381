package helper

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeWin32 records the calls SessionLauncher makes and answers like a
// machine with user S-1-5-21-7-7-7-1001 at console session 2.
type fakeWin32 struct {
	mu      sync.Mutex
	console uint32
	noUser  bool
	calls   []string
	open    map[uintptr]bool // handles not yet closed
	next    uintptr
	started []ProcessSpec
}

func (f *fakeWin32) log(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

func (f *fakeWin32) handle(kind string) uintptr {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open == nil {
		f.open = map[uintptr]bool{}
	}
	f.next++
	f.open[f.next] = true
	return f.next
}

func (f *fakeWin32) ActiveConsoleSessionID() uint32 {
	f.log("WTSGetActiveConsoleSessionId")
	return f.console
}
func (f *fakeWin32) QueryUserToken(s uint32) (uintptr, error) {
	f.log("WTSQueryUserToken(%d)", s)
	if f.noUser {
		return 0, ErrNoUser
	}
	return f.handle("impersonation"), nil
}
func (f *fakeWin32) DuplicatePrimary(t uintptr) (uintptr, error) {
	f.log("DuplicateTokenEx(%d, primary)", t)
	return f.handle("primary"), nil
}
func (f *fakeWin32) TokenUserSID(t uintptr) (string, error) {
	f.log("TokenUser(%d)", t)
	return "S-1-5-21-7-7-7-1001", nil
}
func (f *fakeWin32) EnvironmentBlock(t uintptr) ([]string, error) {
	f.log("CreateEnvironmentBlock(%d)", t)
	return []string{`USERPROFILE=C:\Users\ann`, "USERNAME=ann"}, nil
}
func (f *fakeWin32) CreateProcessAsUser(t uintptr, p ProcessSpec) (Process, error) {
	f.log("CreateProcessAsUser(%d)", t)
	f.mu.Lock()
	f.started = append(f.started, p)
	f.mu.Unlock()
	return nil, nil
}
func (f *fakeWin32) CloseHandle(h uintptr) {
	f.log("CloseHandle(%d)", h)
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.open, h)
}

// TestSessionLauncher: the helper is started in the console session with
// a primary token duplicated from the user's, on winsta0\default, with the
// user's own environment and a quoted command line; no handle leaks.
func TestSessionLauncher(t *testing.T) {
	f := &fakeWin32{console: 2}
	l := SessionLauncher{api: f}
	s, ok := l.Console()
	if !ok || s != 2 {
		t.Fatalf("Console = %d, %v", s, ok)
	}
	u, err := l.User(s)
	if err != nil {
		t.Fatal(err)
	}
	if u.SID() != "S-1-5-21-7-7-7-1001" {
		t.Fatalf("SID %s", u.SID())
	}
	exe := `C:\Program Files\Porthole\porthole-agent.exe`
	if _, err := u.Start(exe, HelperArgs(`\\.\pipe\porthole-helper-ab`)); err != nil {
		t.Fatal(err)
	}
	u.Close()
	u.Close()
	want := []string{"WTSGetActiveConsoleSessionId", "WTSQueryUserToken(2)", "DuplicateTokenEx(1, primary)", "TokenUser(2)", "CloseHandle(1)",
		"CreateEnvironmentBlock(2)", "CreateProcessAsUser(2)", "CloseHandle(2)"}
	if d := cmp.Diff(want, f.calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	wantSpec := ProcessSpec{App: exe, CommandLine: `"C:\Program Files\Porthole\porthole-agent.exe" helper --pipe \\.\pipe\porthole-helper-ab`,
		Desktop: `winsta0\default`, Env: []string{`USERPROFILE=C:\Users\ann`, "USERNAME=ann"}, Flags: 0x08000400}
	if d := cmp.Diff([]ProcessSpec{wantSpec}, f.started); d != "" {
		t.Errorf("CreateProcessAsUser (-want +got):\n%s", d)
	}
	if len(f.open) != 0 {
		t.Errorf("handles left open: %v", f.open)
	}
}

func TestSessionLauncherNoUser(t *testing.T) {
	for _, c := range []uint32{0, noConsole} {
		if _, ok := (SessionLauncher{api: &fakeWin32{console: c}}).Console(); ok {
			t.Errorf("session %#x taken for a user's console", c)
		}
	}
	f := &fakeWin32{console: 1, noUser: true}
	if _, err := (SessionLauncher{api: f}).User(1); !errors.Is(err, ErrNoUser) {
		t.Fatalf("User with nobody logged on = %v", err)
	}
	if slices.ContainsFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, "CreateProcess") }) {
		t.Fatal("a helper was started with nobody logged on")
	}
}

func TestNextDelay(t *testing.T) {
	for _, tc := range []struct{ lived, prev, want string }{
		{"0s", "0s", "1s"}, {"1s", "1s", "2s"}, {"1s", "2s", "4s"}, {"5s", "32s", "1m0s"}, {"1s", "1m0s", "1m0s"},
		{"30s", "1m0s", "1s"}, {"2h0m0s", "8s", "1s"},
	} {
		if got := nextDelay(dur(t, tc.lived), dur(t, tc.prev)).String(); got != tc.want {
			t.Errorf("nextDelay(%s, %s) = %s, want %s", tc.lived, tc.prev, got, tc.want)
		}
	}
}
