package accounts

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"porthole/internal/clock/clocktest"
)

// fakeSystem stands in for the operating system in tests of the Manager's
// own error handling (failures the real system cannot be made to produce).
type fakeSystem struct {
	mu        sync.Mutex
	adminErr  error
	createErr error
	users     map[string]bool
	created   []string
	removed   []string
}

var _ system = (*fakeSystem)(nil)

func (f *fakeSystem) exists(_ context.Context, name string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.users[name], nil
}

func (f *fakeSystem) adminGroup(context.Context) (string, error) {
	if f.adminErr != nil {
		return "", f.adminErr
	}
	return "sudo", nil
}

func (f *fakeSystem) create(_ context.Context, name, _, _ string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, name)
	f.users[name] = true // as if useradd worked and chpasswd failed
	return f.createErr
}

func (f *fakeSystem) remove(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, name)
	delete(f.users, name)
	return nil
}

func (f *fakeSystem) usage(context.Context, string) (bool, bool, error) { return false, false, nil }

// eventLog collects events.
type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) kinds() []EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var k []EventKind
	for _, e := range l.ev {
		k = append(k, e.Kind)
	}
	return k
}

var testStart = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func newFakeManager(t *testing.T, sys *fakeSystem) (*Manager, *eventLog) {
	t.Helper()
	log := &eventLog{}
	m, err := New(Config{StateDir: t.TempDir(), Clock: clocktest.NewTimerClock(testStart), OnEvent: log.add})
	if err != nil {
		t.Fatal(err)
	}
	if sys.users == nil {
		sys.users = map[string]bool{}
	}
	m.sys = sys
	return m, log
}

func TestCreateWithoutAdminGroupCreatesNothing(t *testing.T) {
	sys := &fakeSystem{adminErr: ErrNoAdminGroup}
	m, log := newFakeManager(t, sys)
	_, err := m.Create(context.Background(), Spec{GrantID: "g", ExpiresAt: testStart.Add(time.Hour)})
	if !errors.Is(err, ErrNoAdminGroup) {
		t.Fatalf("Create = %v, want ErrNoAdminGroup", err)
	}
	if len(sys.created) != 0 {
		t.Fatalf("users created: %v", sys.created)
	}
	if _, err := os.Stat(m.JournalPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("journal written without an account: %v", err)
	}
	if k := log.kinds(); len(k) != 0 {
		t.Fatalf("events %v, want none", k)
	}
}

func TestCreateFailureUndoes(t *testing.T) {
	sys := &fakeSystem{createErr: errors.New("chpasswd: exit status 1")}
	m, log := newFakeManager(t, sys)
	acct, err := m.Create(context.Background(), Spec{GrantID: "g", ExpiresAt: testStart.Add(time.Hour)})
	if err == nil || acct.Password != "" {
		t.Fatalf("Create = %+v, %v; want error and no password", acct, err)
	}
	if len(sys.created) != 1 || len(sys.removed) != 1 || sys.created[0] != sys.removed[0] {
		t.Fatalf("created %v, removed %v; want the half-made user removed", sys.created, sys.removed)
	}
	st, err := m.Status(context.Background(), sys.created[0])
	if err != nil || st != StatusRemoved {
		t.Fatalf("Status = %v, %v; want removed", st, err)
	}
	if k := log.kinds(); len(k) != 1 || k[0] != EventCreateFailed {
		t.Fatalf("events %v, want [%s]", k, EventCreateFailed)
	}
}

func TestCreateRejectsBadSpecs(t *testing.T) {
	long := strings.Repeat("x", maxTextLen+1)
	tests := []struct {
		name string
		spec Spec
	}{
		{"no grant", Spec{ExpiresAt: testStart.Add(time.Hour)}},
		{"past expiry", Spec{GrantID: "g", ExpiresAt: testStart.Add(-time.Second)}},
		{"expiry now", Spec{GrantID: "g", ExpiresAt: testStart}},
		{"too long", Spec{GrantID: "g", ExpiresAt: testStart.Add(DefaultMaxLifetime + time.Second)}},
		{"negative window", Spec{GrantID: "g", ExpiresAt: testStart.Add(time.Hour), UseWithin: -time.Second}},
		{"bad prefix", Spec{GrantID: "g", ExpiresAt: testStart.Add(time.Hour), Prefix: "Root"}},
		{"long grant", Spec{GrantID: long, ExpiresAt: testStart.Add(time.Hour)}},
		{"control requester", Spec{GrantID: "g", Requester: "a\nb", ExpiresAt: testStart.Add(time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := &fakeSystem{}
			m, _ := newFakeManager(t, sys)
			if _, err := m.Create(context.Background(), tt.spec); !errors.Is(err, ErrBadSpec) {
				t.Fatalf("Create = %v, want ErrBadSpec", err)
			}
			if len(sys.created) != 0 {
				t.Fatalf("user created for a bad spec")
			}
		})
	}
}

func TestNewNeedsStateDir(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("New(Config{}) = %v, want ErrConfig", err)
	}
}

func TestUnknownAccountIsNeverTouched(t *testing.T) {
	sys := &fakeSystem{users: map[string]bool{"root": true}}
	m, _ := newFakeManager(t, sys)
	if err := m.Revoke(context.Background(), "root"); !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("Revoke(root) = %v, want ErrUnknownAccount", err)
	}
	if _, err := m.Status(context.Background(), "root"); !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("Status(root) = %v, want ErrUnknownAccount", err)
	}
	if len(sys.removed) != 0 {
		t.Fatalf("removed %v", sys.removed)
	}
}

func TestStatusString(t *testing.T) {
	want := map[Status]string{StatusPending: "pending", StatusActive: "active", StatusUsed: "used", StatusExpired: "expired", StatusRemoved: "removed", Status(9): "status(9)"}
	for s, w := range want {
		if s.String() != w {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), w)
		}
	}
}
