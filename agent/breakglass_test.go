package agent

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/agent/accounts"
	"porthole/agent/outbox"
	"porthole/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeAccounts stands in for accounts.Manager.
type fakeAccounts struct {
	createErr   error
	revoked     []string
	reconciled  []time.Time
	onReconcile func()
}

func (f *fakeAccounts) Create(_ context.Context, s accounts.Spec) (accounts.Account, error) {
	if f.createErr != nil {
		return accounts.Account{}, f.createErr
	}
	return accounts.Account{Username: s.Prefix + "abcdefgh", Password: "Pw-123456789abcdefghijkm", GrantID: s.GrantID,
		CreatedAt: time.Now(), ExpiresAt: s.ExpiresAt}, nil
}
func (f *fakeAccounts) Revoke(_ context.Context, name string) error {
	f.revoked = append(f.revoked, name)
	return nil
}
func (f *fakeAccounts) Reconcile(_ context.Context, now time.Time) error {
	f.reconciled = append(f.reconciled, now)
	if f.onReconcile != nil {
		f.onReconcile()
	}
	return nil
}
func (f *fakeAccounts) Run(context.Context) error { return nil }

// sink records what the agent sends the broker.
type sink struct {
	mu   sync.Mutex
	msgs []wire.Message
	err  error
}

func (s *sink) send(m wire.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	return s.err
}

func TestBreakGlassAnswers(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	tests := []struct {
		name        string
		mgr         *fakeAccounts
		sendErr     error
		msg         wire.Message
		wantType    string
		wantRevoked int
	}{
		{"created", &fakeAccounts{}, nil, &wire.BreakGlassCreate{GrantID: "g1", Requester: "alice", ExpiresAt: exp}, "breakglass_created", 0},
		{"create refused", &fakeAccounts{createErr: errors.New("useradd: exit 9\nname in use")}, nil,
			&wire.BreakGlassCreate{GrantID: "g1", Requester: "alice", ExpiresAt: exp}, "breakglass_failed", 0},
		{"undeliverable password removes the account", &fakeAccounts{}, errors.New("link down"),
			&wire.BreakGlassCreate{GrantID: "g1", Requester: "alice", ExpiresAt: exp}, "breakglass_created", 1},
		{"revoke", &fakeAccounts{}, nil, &wire.BreakGlassRevoke{GrantID: "g1", Username: "ph-abcdefgh"}, "breakglass_revoked", 1},
		{"unavailable", nil, nil, &wire.BreakGlassRevoke{GrantID: "g1", Username: "ph-abcdefgh"}, "breakglass_failed", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{err: tt.sendErr}
			b := &breakGlass{prefix: "ph-", send: s.send, log: slog.New(slog.DiscardHandler), clock: time.Now, why: errors.New("no useradd")}
			if tt.mgr != nil {
				b.mgr = tt.mgr
			}
			switch m := tt.msg.(type) {
			case *wire.BreakGlassCreate:
				b.onCreate(context.Background(), m)
			case *wire.BreakGlassRevoke:
				b.onRevoke(context.Background(), m)
			}
			b.wait()
			if len(s.msgs) != 1 || s.msgs[0].Type() != tt.wantType {
				t.Fatalf("sent %v, want one %s", s.msgs, tt.wantType)
			}
			if err := s.msgs[0].Validate(); err != nil {
				t.Fatalf("sent an invalid message: %v", err)
			}
			if tt.mgr != nil && len(tt.mgr.revoked) != tt.wantRevoked {
				t.Fatalf("revoked %v, want %d", tt.mgr.revoked, tt.wantRevoked)
			}
		})
	}
}

func TestBreakGlassEventsToOutbox(t *testing.T) {
	ob, err := outbox.Open(t.TempDir(), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	b := &breakGlass{log: slog.New(slog.DiscardHandler)}
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, k := range []accounts.EventKind{accounts.EventCreated, accounts.EventUsed, accounts.EventExpired} {
		b.record(ob, accounts.Event{Kind: k, Username: "ph-abcdefgh", GrantID: "g1", Requester: "alice", At: at, ExpiresAt: at})
	}
	var kinds []string
	for _, e := range ob.Pending(100) {
		kinds = append(kinds, e.Kind)
		if !strings.Contains(string(e.Data), `"grant_id":"g1"`) || !strings.Contains(string(e.Data), `"username":"ph-abcdefgh"`) {
			t.Fatalf("event data %s", e.Data)
		}
	}
	want := "breakglass.created breakglass.used breakglass.expired breakglass.logged_off breakglass.deleted"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("outbox kinds %q, want %q", got, want)
	}
}
