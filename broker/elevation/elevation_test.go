package elevation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"porthole/broker/agentevents"
	"porthole/broker/audit"
	"porthole/broker/devicekey"
	"porthole/broker/requests"
	"porthole/broker/secretbox"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
	"porthole/internal/elevcode"
	"porthole/internal/wire"
)

var (
	secret = bytes.Repeat([]byte{7}, 32)
	now    = time.Date(2026, 11, 23, 9, 3, 0, 0, time.UTC)
)

type fixture struct {
	agents *fakeAgents
	svc    *Service
	queue  *requests.Manager
	st     *store.Store
	log    *audit.Log
	set    *settings.Settings
	clk    *clocktest.Fake
}

func setup(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateEnrollToken(ctx, store.EnrollToken{ID: "tok", Hash: "h", CreatedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: 2}); err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(now)
	log := audit.New(st, clk)
	set := settings.New(st)
	ag := &fakeAgents{online: map[string]bool{}}
	box, err := secretbox.New(bytes.Repeat([]byte{9}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	keys := devicekey.New(devicekey.Config{Store: st, Box: box, Audit: log, Agents: ag, Clock: clk})
	sealed, err := keys.Seal("dev1", secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Enroll(ctx, "h", now, store.Device{ID: "dev1", PublicKey: []byte("k1"), SecretSealed: sealed, Hostname: "h1"}); err != nil {
		t.Fatal(err)
	}
	queue := requests.New(requests.Config{Store: st, Audit: log, Settings: set, Agents: ag, Clock: clk, NewID: func() string { return "unused" }})
	svc := New(Config{Store: st, Audit: log, Settings: set, Agents: ag, Requests: queue, Keys: keys, Clock: clk})
	queue.Register(requests.KindElevation, svc)
	return fixture{svc: svc, queue: queue, st: st, log: log, set: set, agents: ag, clk: clk}
}

func TestIssueVerifiesAtTheAgentAndIsAudited(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c, err := f.svc.Issue(ctx, "user:ann", "127.0.0.1", "dev1", wire.ElevationCodeRequest{User: "bob", Minutes: 30})
	if err != nil {
		t.Fatal(err)
	}
	g, err := elevcode.Verify(secret, "dev1", "bob", c.Code, now.Add(time.Minute), 0)
	if err != nil {
		t.Fatalf("agent-side verify: %v", err)
	}
	if g.Duration != 30*time.Minute || int(g.Nonce) != c.Nonce || !g.IssuedAt.Equal(c.IssuedAt) {
		t.Errorf("grant %+v vs issued %+v", g, c)
	}
	if _, err := elevcode.Verify(secret, "dev1", "eve", c.Code, now, 0); !errors.Is(err, elevcode.ErrBadCode) {
		t.Errorf("other user: %v", err)
	}
	recs, err := f.log.Query(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	last := recs[0]
	for _, r := range recs {
		if r.Seq > last.Seq {
			last = r
		}
	}
	if last.Action != IssuedAction || last.Target != "dev1" || last.Actor != "user:ann" {
		t.Errorf("audit %+v", last)
	}
	compact := strings.ReplaceAll(c.Code, "-", "")
	for _, r := range recs {
		if strings.Contains(r.Details, compact) || strings.Contains(r.Details, c.Code) {
			t.Errorf("audit record carries the code: %s", r.Details)
		}
	}

	tests := []struct {
		name   string
		device string
		req    wire.ElevationCodeRequest
		want   error
	}{
		{"above max setting", "dev1", wire.ElevationCodeRequest{Minutes: 65}, ErrTooLong},
		{"not a multiple of 5", "dev1", wire.ElevationCodeRequest{Minutes: 7}, wire.ErrInvalid},
		{"bad user", "dev1", wire.ElevationCodeRequest{User: "a b", Minutes: 5}, wire.ErrInvalid},
		{"unknown device", "nope", wire.ElevationCodeRequest{Minutes: 5}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.svc.Issue(ctx, "user:ann", "", tt.device, tt.req); !errors.Is(err, tt.want) {
				t.Errorf("Issue = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := f.set.Set(ctx, settings.Global, settings.ElevationMaxMinutes, "120"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Issue(ctx, "user:ann", "", "dev1", wire.ElevationCodeRequest{Minutes: 120}); err != nil {
		t.Errorf("120 min after raising the setting: %v", err)
	}
	if err := f.st.RevokeDevice(ctx, "dev1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Issue(ctx, "user:ann", "", "dev1", wire.ElevationCodeRequest{Minutes: 5}); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked device: %v", err)
	}
}

type nopSender struct{}

func (nopSender) Send(string, wire.Message) error { return nil }

func ev(t *testing.T, id, kind string, at time.Time, d wire.ElevationEvent) wire.AgentEvent {
	t.Helper()
	b, err := wire.MarshalElevationEvent(d)
	if err != nil {
		t.Fatal(err)
	}
	return wire.AgentEvent{ID: id, Kind: kind, At: at, Data: b}
}

// TestHookStoresSessionsOnce delivers a session's events twice (a resent
// batch) and checks the stored sessions and processes.
func TestHookStoresSessionsOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	rec := agentevents.New(f.log, nopSender{}, nil)
	rec.Register(Area, f.svc.Hook)
	start := now.Add(-time.Second)
	proc := &wire.ElevationProcessed{PID: 42, PPID: 41, UID: 1000, LoginUID: 1000, Exe: "/usr/bin/id", Args: []string{"id", "password=[REDACTED]"}, StartedAt: start}
	nonce := 9
	batch := &wire.AgentEvents{Events: []wire.AgentEvent{
		ev(t, "e1", "elevation.granted", now, wire.ElevationEvent{SessionID: "s1", User: "bob", Until: now.Add(30 * time.Minute), CodeNonce: &nonce}),
		ev(t, "e2", "elevation.process_start", now.Add(time.Second), wire.ElevationEvent{SessionID: "s1", User: "bob", Process: proc}),
		ev(t, "e3", "elevation.process_exit", now.Add(2*time.Second), wire.ElevationEvent{SessionID: "s1", User: "bob", Process: proc}),
		ev(t, "e4", "elevation.denied", now.Add(3*time.Second), wire.ElevationEvent{User: "bob", Reason: "used"}),
		ev(t, "e5", "elevation.expired", now.Add(30*time.Minute), wire.ElevationEvent{SessionID: "s1", User: "bob", Until: now.Add(30 * time.Minute)}),
		{ID: "e6", Kind: "elevation.process_start", At: now, Data: json.RawMessage(`{"user":"bob"}`)}, // no session: skipped
	}}
	for range 2 {
		if !rec.Handle("dev1", batch) {
			t.Fatal("not handled")
		}
	}
	got, err := f.svc.Sessions(ctx, "dev1")
	if err != nil {
		t.Fatal(err)
	}
	want := []Session{{SessionID: "s1", User: "bob", GrantedAt: now, Until: now.Add(30 * time.Minute), EndedAt: now.Add(30 * time.Minute),
		EndReason: "expired", Processes: []Process{{EventID: "e2", PID: 42, PPID: 41, Exe: "/usr/bin/id", Args: proc.Args,
			StartedAt: start, SeenAt: now.Add(time.Second), ExitedAt: now.Add(2 * time.Second)}}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("sessions (-want +got):\n%s", d)
	}
	recs, err := f.log.Query(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 {
		t.Errorf("%d audit records for 6 events delivered twice", len(recs))
	}
}

// fakeAgents records what the service sends to connected agents.
type fakeAgents struct {
	mu     sync.Mutex
	online map[string]bool
	sent   []wire.Message
}

func (f *fakeAgents) Online(id string) bool { f.mu.Lock(); defer f.mu.Unlock(); return f.online[id] }
func (f *fakeAgents) setOnline(id string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.online[id] = on
}
func (f *fakeAgents) Send(id string, m wire.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return nil
}

// TestRequestsThroughTheQueue: elevation.requested events reach the one
// requests queue once; approving there issues a code and delivers it to
// the agent for the requesting user; denials and expiries are told to the
// agent; every step is audited.
func TestRequestsThroughTheQueue(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	rec := agentevents.New(f.log, nopSender{}, nil)
	rec.Register(Area, f.svc.Hook)
	batch := &wire.AgentEvents{Events: []wire.AgentEvent{
		ev(t, "r1", "elevation.requested", now, wire.ElevationEvent{RequestID: "agentref1", User: "bob", Note: "printer driver"}),
		ev(t, "r2", "elevation.requested", now.Add(time.Second), wire.ElevationEvent{RequestID: "agentref2", User: "eve", Note: "games"}),
	}}
	rec.Handle("dev1", batch)
	rec.Handle("dev1", batch) // resent: queued once
	f.clk.Advance(2 * time.Second)
	rs, err := f.queue.List(ctx, store.RequestPending)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].User != "eve" || rs[1].Reason != "printer driver" || rs[1].Hostname != "h1" || rs[1].Kind != requests.KindElevation ||
		rs[1].MaxMinutes != 60 || rs[1].AgeSeconds != 2 {
		t.Fatalf("requests %+v", rs)
	}
	bob, eve := rs[1].ID, rs[0].ID
	approve := func(id string, minutes int) error {
		_, err := f.queue.Approve(ctx, id, requests.Decision{By: "ann", Minutes: minutes})
		return err
	}
	tests := []struct {
		name    string
		minutes int
		want    error
	}{
		{"offline", 15, ErrOffline},
		{"no minutes", 0, wire.ErrInvalid},
		{"above elevation.max_minutes", 65, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.agents.setOnline("dev1", tt.want != ErrOffline)
			if err := approve(bob, tt.minutes); !errors.Is(err, tt.want) {
				t.Errorf("approve = %v, want %v", err, tt.want)
			}
			if r, _ := f.st.Request(ctx, bob); r.Status != store.RequestPending {
				t.Errorf("after a refused approval the request is %s", r.Status)
			}
		})
	}
	f.agents.setOnline("dev1", true)
	f.agents.sent = nil
	if err := approve(bob, 15); err != nil {
		t.Fatal(err)
	}
	sent, ok := f.agents.sent[0].(*wire.ElevationRequestCode)
	if !ok || sent.User != "bob" || sent.RequestID != "agentref1" || sent.By != "ann" {
		t.Fatalf("sent %+v", f.agents.sent)
	}
	if g, err := elevcode.Verify(secret, "dev1", "bob", sent.Code, now, 0); err != nil || g.Duration != 15*time.Minute {
		t.Errorf("delivered code: %+v %v", g, err)
	}
	if err := approve(bob, 15); !errors.Is(err, store.ErrNotPending) {
		t.Errorf("second approval: %v", err)
	}
	if got, _ := f.st.Request(ctx, bob); got.Status != store.RequestApproved || got.DecidedBy != "ann" {
		t.Errorf("stored %+v", got)
	}
	if err := f.queue.Deny(ctx, eve, requests.Decision{By: "ann", Comment: "not for games"}); err != nil {
		t.Fatal(err)
	}
	want := &wire.ElevationRequestResult{RequestID: "agentref2", Status: wire.RequestDenied, Message: "not for games", By: "ann",
		RequestedAt: now.Add(time.Second).UTC()}
	if d := cmp.Diff(want, f.agents.sent[len(f.agents.sent)-1]); d != "" {
		t.Errorf("denial sent (-want +got):\n%s", d)
	}

	// A third request expires after requests.expiry_minutes, counted from
	// when it reached the queue, and the agent hears of it.
	rec.Handle("dev1", &wire.AgentEvents{Events: []wire.AgentEvent{
		ev(t, "r3", "elevation.requested", now, wire.ElevationEvent{RequestID: "agentref3", User: "bob", Note: "again"})}})
	f.clk.Advance(30 * time.Minute)
	if n, err := f.queue.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v", n, err)
	}
	if res, ok := f.agents.sent[len(f.agents.sent)-1].(*wire.ElevationRequestResult); !ok || res.RequestID != "agentref3" || res.Status != wire.RequestExpired {
		t.Errorf("expiry sent %+v", f.agents.sent[len(f.agents.sent)-1])
	}
	var actions []string
	recs, _ := f.log.Query(ctx, audit.Filter{})
	for _, r := range recs {
		actions = append(actions, r.Action)
	}
	for _, want := range []string{IssuedAction, "request.created", "request.approved", "request.denied", "request.expired", "elevation.requested"} {
		found := false
		for _, a := range actions {
			found = found || a == want
		}
		if !found {
			t.Errorf("no %s in audit %v", want, actions)
		}
	}
}

func TestPolicyPushedOnSettingChange(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.agents.online["dev1"] = true
	if _, err := f.set.Set(ctx, settings.DeviceScope("dev1"), settings.ElevationSelfApproveGroups, "helpdesk-self, admins2"); err != nil {
		t.Fatal(err)
	}
	f.svc.SettingChanged(ctx, settings.DeviceScope("dev1"), settings.ElevationSelfApproveGroups)
	f.svc.SettingChanged(ctx, settings.Global, "remote_support.allow") // not ours: nothing sent
	want := []wire.Message{&wire.ElevationPolicy{SelfApproveGroups: []string{"helpdesk-self", "admins2"}, MaxMinutes: 60}}
	if d := cmp.Diff(want, f.agents.sent); d != "" {
		t.Errorf("sent (-want +got):\n%s", d)
	}
}
