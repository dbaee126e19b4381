package elevsock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/agent/elevation"
	"porthole/internal/elevcode"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeElevator records who asked; code "GOOD" works, others fail with err.
type fakeElevator struct {
	mu    sync.Mutex
	users []string
	err   error
	until time.Time
}

func (f *fakeElevator) Elevate(_ context.Context, u, code string) (elevation.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users = append(f.users, u)
	if code != "GOOD" {
		return elevation.Session{}, f.err
	}
	return elevation.Session{ID: "s1", User: u, Until: f.until}, nil
}

// Request self-approves the reason "mine", forwards any other.
func (f *fakeElevator) Request(_ context.Context, u, reason string) (elevation.Session, bool, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users = append(f.users, u)
	if reason == "mine" {
		return elevation.Session{ID: "s2", User: u, Until: f.until}, true, "", nil
	}
	return elevation.Session{}, false, "req1", nil
}

func (f *fakeElevator) Sessions() ([]elevation.Session, error) {
	return []elevation.Session{{ID: "s1", User: "someone-else", Until: f.until}}, nil
}

func start(t *testing.T, elev Elevator) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "elevate.sock")
	s := NewServer(path, elev, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket left behind: %v", err)
		}
	})
	// localsock.Listen makes the socket 0666 once it listens (the file
	// appears at bind, a moment before connects work).
	for range 500 {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() == 0o666 {
			return path
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("socket not created with mode 0666")
	return ""
}

// TestCallerIsThePeer checks that the service elevates the account of the
// connecting process (this test's), and answers each refusal clearly.
func TestCallerIsThePeer(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(30 * time.Minute).UTC().Truncate(time.Second)
	f := &fakeElevator{until: until}
	path := start(t, f)
	ctx := context.Background()

	r, err := Ask(ctx, path, Request{Op: OpElevate, Code: "GOOD"})
	if err != nil || !r.OK || r.User != me.Username || !r.Until.Equal(until) || r.Now.IsZero() {
		t.Fatalf("Ask = %+v, %v", r, err)
	}
	if len(f.users) != 1 || f.users[0] != me.Username {
		t.Errorf("elevated %v, want the peer %s", f.users, me.Username)
	}
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: %w", elevation.ErrDenied, elevcode.ErrBadCode), "Wrong code"},
		{fmt.Errorf("%w: %w", elevation.ErrDenied, elevcode.ErrUsed), "already used"},
		{fmt.Errorf("%w: %w", elevation.ErrDenied, elevcode.ErrExpired), "expired"},
		{fmt.Errorf("%w: %w", elevation.ErrDenied, elevcode.ErrMalformed), "not a code"},
		{fmt.Errorf("%w (after 10:00:00)", elevation.ErrRateLimited), "Too many wrong codes"},
		{elevation.ErrBadUser, "cannot be made an administrator"},
		{errors.New("disk on fire"), "agent's log"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			f.mu.Lock()
			f.err = tt.err
			f.mu.Unlock()
			r, err := Ask(ctx, path, Request{Op: OpElevate, Code: "BAD"})
			if err != nil || r.OK || !strings.Contains(r.Error, tt.want) {
				t.Errorf("Ask = %+v, %v; want %q", r, err, tt.want)
			}
		})
	}
	r, err = Ask(ctx, path, Request{Op: OpStatus})
	if err != nil || r.OK || r.Error != "You are not elevated." {
		t.Errorf("status of a non-elevated caller = %+v, %v", r, err)
	}
	r, err = Ask(ctx, path, Request{Op: OpRequest, Reason: "mine"})
	if err != nil || !r.OK || !r.SelfApproved || r.User != me.Username || !r.Until.Equal(until) {
		t.Errorf("self-approved request = %+v, %v", r, err)
	}
	r, err = Ask(ctx, path, Request{Op: OpRequest, Reason: "install\na driver"})
	if err != nil || !r.OK || r.SelfApproved || r.RequestID != "req1" {
		t.Errorf("forwarded request = %+v, %v", r, err)
	}
	if r, _ := Ask(ctx, path, Request{Op: OpRequest, Reason: "  "}); r.OK || !strings.Contains(r.Error, "not understood") {
		t.Errorf("request without a reason = %+v", r)
	}
	// Garbage gets an answer, not a hang.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(`{"op":"elevate","code":"GOOD","user":"root"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 512)
	n, _ := c.Read(b)
	if !strings.Contains(string(b[:n]), "not understood") {
		t.Errorf("request naming a user: %s", b[:n])
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"op":"elevate","code":"ABCD-EFGH-JKMN"}`))
	f.Add([]byte(`{"op":"status"}`))
	f.Add([]byte(`{"op":"status","code":"x"}`))
	f.Add([]byte(`{"op":"elevate","user":"root"}`))
	f.Add([]byte(`{"op":"request","reason":"printer driver"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRequest(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if (r.Op != OpElevate || r.Code == "") && (r.Op != OpStatus || r.Code != "") &&
			(r.Op != OpRequest || strings.TrimSpace(r.Reason) == "" || strings.ContainsFunc(r.Reason, func(c rune) bool { return c < 0x20 })) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
