package breakglass

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"porthole/broker/audit"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
	"porthole/internal/wire"
)

// testStore is the real store with one device, dev1, that exists without
// an enrollment.
type testStore struct{ *store.Store }

func (s testStore) Device(_ context.Context, id string) (store.Device, error) {
	if id != "dev1" {
		return store.Device{}, store.ErrNotFound
	}
	return store.Device{ID: id}, nil
}

// agentStub answers like an agent would, from another goroutine.
type agentStub struct {
	online bool
	answer func(m wire.Message) (from string, reply wire.Message)
	svc    *Service
	mu     sync.Mutex
	sent   []wire.Message
}

func (a *agentStub) Online(string) bool { return a.online }
func (a *agentStub) Send(_ string, m wire.Message) error {
	a.mu.Lock()
	a.sent = append(a.sent, m)
	a.mu.Unlock()
	if a.answer != nil {
		if from, r := a.answer(m); r != nil {
			go a.svc.HandleAgent(from, r)
		}
	}
	return nil
}

type fixture struct {
	svc   *Service
	st    *store.Store
	log   *audit.Log
	agent *agentStub
	clk   *clocktest.Fake
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clocktest.New(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	f := &fixture{st: st, log: audit.New(st, clk), agent: &agentStub{online: true}, clk: clk}
	n := 0
	f.svc = New(Config{Store: testStore{st}, Audit: f.log, Agents: f.agent, Settings: settings.New(st), Clock: clk,
		ReplyTimeout: 2 * time.Second, NewID: func() string { n++; return "g" + strings.Repeat("x", n) }})
	f.agent.svc = f.svc
	return f
}

func (f *fixture) actions(t *testing.T) []string {
	t.Helper()
	recs, err := f.st.AuditRecords(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Action)
	}
	return out
}

func TestCreateRefusesBadExpiries(t *testing.T) {
	f := newFixture(t)
	now := f.clk.Now()
	tests := []struct {
		name string
		req  Request
		want error
	}{
		{"over the maximum", Request{DeviceID: "dev1", For: 61 * time.Minute}, ErrBadExpiry},
		{"absolute over the maximum", Request{DeviceID: "dev1", ExpiresAt: now.Add(2 * time.Hour)}, ErrBadExpiry},
		{"in the past", Request{DeviceID: "dev1", ExpiresAt: now.Add(-time.Minute)}, ErrBadExpiry},
		{"no expiry", Request{DeviceID: "dev1"}, ErrBadExpiry},
		{"use-within longer than the setting", Request{DeviceID: "dev1", For: time.Hour, UseWithin: 16 * time.Minute}, ErrBadExpiry},
		{"unknown device", Request{DeviceID: "nope", For: time.Hour}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.svc.Create(context.Background(), tt.req); !errors.Is(err, tt.want) {
				t.Fatalf("Create = %v, want %v", err, tt.want)
			}
		})
	}
	f.agent.online = false
	if _, err := f.svc.Create(context.Background(), Request{DeviceID: "dev1", For: time.Hour}); !errors.Is(err, ErrOffline) {
		t.Fatalf("offline: %v", err)
	}
	if len(f.agent.sent) != 0 {
		t.Fatalf("sent %v for refused requests", f.agent.sent)
	}
}

func TestCreateReturnsThePasswordOnce(t *testing.T) {
	f := newFixture(t)
	f.agent.answer = func(m wire.Message) (string, wire.Message) {
		c := m.(*wire.BreakGlassCreate)
		if c.UseWithinSeconds != 15*60 || c.Requester != "alice" {
			t.Errorf("create message %+v", c)
		}
		return "dev1", &wire.BreakGlassCreated{GrantID: c.GrantID, Username: "ph-abc", Password: "S3cret!pw",
			CreatedAt: f.clk.Now(), ExpiresAt: c.ExpiresAt}
	}
	c, err := f.svc.Create(context.Background(), Request{DeviceID: "dev1", Requester: "alice", For: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if c.Password != "S3cret!pw" || c.Username != "ph-abc" || c.Status != StatusActive || !c.ExpiresAt.Equal(f.clk.Now().Add(30*time.Minute)) {
		t.Fatalf("created %+v", c)
	}
	gs, err := f.svc.List(context.Background(), "dev1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(gs)
	if len(gs) != 1 || strings.Contains(string(b), "S3cret") {
		t.Fatalf("stored grants %s", b)
	}
	if got := strings.Join(f.actions(t), " "); got != ActionRequested {
		t.Fatalf("audit %q", got)
	}
}

func TestCreateFailures(t *testing.T) {
	tests := []struct {
		name   string
		answer func(m wire.Message) (string, wire.Message)
		want   error
	}{
		{"agent refuses", func(m wire.Message) (string, wire.Message) {
			return "dev1", &wire.BreakGlassFailed{GrantID: m.(*wire.BreakGlassCreate).GrantID, Op: wire.BreakGlassOpCreate, Error: "no sudo group"}
		}, ErrAgent},
		{"answer from another device is ignored", func(m wire.Message) (string, wire.Message) {
			return "dev2", &wire.BreakGlassFailed{GrantID: m.(*wire.BreakGlassCreate).GrantID, Op: wire.BreakGlassOpCreate, Error: "x"}
		}, ErrNoAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.agent.answer = tt.answer
			_, err := f.svc.Create(context.Background(), Request{DeviceID: "dev1", Requester: "alice", For: time.Hour})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Create = %v, want %v", err, tt.want)
			}
			gs, _ := f.svc.List(context.Background(), "dev1")
			if len(gs) != 1 || gs[0].Status != StatusFailed {
				t.Fatalf("grants %+v, want one failed", gs)
			}
			if got := strings.Join(f.actions(t), " "); got != ActionRequested+" "+ActionRequestFailed {
				t.Fatalf("audit %q", got)
			}
		})
	}
}

func TestLateAnswerIsRevoked(t *testing.T) {
	f := newFixture(t)
	f.svc.HandleAgent("dev1", &wire.BreakGlassCreated{GrantID: "gone", Username: "ph-late", Password: "pw",
		CreatedAt: f.clk.Now(), ExpiresAt: f.clk.Now().Add(time.Hour)})
	f.agent.mu.Lock()
	defer f.agent.mu.Unlock()
	if len(f.agent.sent) != 1 {
		t.Fatalf("sent %v, want one revoke", f.agent.sent)
	}
	if r, ok := f.agent.sent[0].(*wire.BreakGlassRevoke); !ok || r.GrantID != "gone" || r.Username != "ph-late" {
		t.Fatalf("sent %+v, want a revoke of ph-late", f.agent.sent[0])
	}
}

func TestHookTransitions(t *testing.T) {
	tests := []struct {
		name   string
		device string
		kinds  []string
		want   string
	}{
		{"created", "dev1", []string{"breakglass.created"}, StatusActive},
		{"first login", "dev1", []string{"breakglass.created", "breakglass.used"}, StatusUsed},
		{"expired after use", "dev1", []string{"breakglass.created", "breakglass.used", "breakglass.expired", "breakglass.logged_off", "breakglass.deleted"}, StatusExpired},
		{"unused", "dev1", []string{"breakglass.created", "breakglass.unused"}, StatusExpired},
		{"revoked", "dev1", []string{"breakglass.created", "breakglass.revoked"}, StatusRemoved},
		{"late created after removal", "dev1", []string{"breakglass.revoked", "breakglass.created", "breakglass.used"}, StatusRemoved},
		{"repeated", "dev1", []string{"breakglass.created", "breakglass.created"}, StatusActive},
		{"another device's event", "dev2", []string{"breakglass.revoked"}, StatusPending},
		{"create failed", "dev1", []string{"breakglass.create_failed"}, StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			now := f.clk.Now()
			if err := f.st.CreateBreakGlassGrant(ctx, store.BreakGlassGrant{ID: "g1", DeviceID: "dev1", Requester: "alice",
				Status: StatusPending, CreatedAt: now, ExpiresAt: now.Add(time.Hour), UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			for i, k := range tt.kinds {
				ev := wire.AgentEvent{ID: "e" + string(rune('a'+i)), Kind: k, At: now,
					Data: json.RawMessage(`{"grant_id":"g1","username":"ph-abc"}`)}
				if err := f.svc.Hook(ctx, tt.device, ev); err != nil {
					t.Fatal(err)
				}
			}
			g, err := f.st.BreakGlassGrant(ctx, "g1")
			if err != nil {
				t.Fatal(err)
			}
			if g.Status != tt.want {
				t.Fatalf("status %q, want %q", g.Status, tt.want)
			}
		})
	}
}
