package requests

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"porthole/broker/audit"
	"porthole/broker/live"
	"porthole/broker/sessions"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
	"porthole/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// agentsFake is an agent that records what the broker sends it while it
// is connected (not offline).
type agentsFake struct {
	mu      sync.Mutex
	sent    []wire.Message
	offline bool
}

func (a *agentsFake) Online(string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.offline
}

func (a *agentsFake) Send(_ string, m wire.Message) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.offline {
		return errors.New("agent offline")
	}
	a.sent = append(a.sent, m)
	return nil
}

func (a *agentsFake) setOffline(off bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.offline = off
}

// results returns the request outcomes sent so far.
func (a *agentsFake) results() []wire.SupportRequestResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []wire.SupportRequestResult
	for _, m := range a.sent {
		if r, ok := m.(*wire.SupportRequestResult); ok {
			out = append(out, *r)
		}
	}
	return out
}

func (a *agentsFake) sessionStarts() []wire.SessionStart {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []wire.SessionStart
	for _, m := range a.sent {
		if s, ok := m.(*wire.SessionStart); ok {
			out = append(out, *s)
		}
	}
	return out
}

type rig struct {
	m      *Manager
	st     *store.Store
	set    *settings.Settings
	agents *agentsFake
	clk    *clocktest.Fake
	events <-chan live.Event
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.DB().ExecContext(ctx, `INSERT INTO devices(id, public_key, secret, hostname, os, arch, username, agent_version, displays, enrolled_at, last_seen, revoked)
		VALUES('d1', x'01', x'00', 'laptop-7', '', '', 'ann', '', '[]', 0, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	log := audit.New(st, clk)
	set := settings.New(st)
	ag := &agentsFake{}
	sess := sessions.New(sessions.Config{Agents: ag, Store: st, Audit: log, Settings: set, Clock: clk})
	t.Cleanup(sess.Close)
	hub := live.NewHub()
	events, cancel := hub.Subscribe()
	t.Cleanup(cancel)
	n := 0
	m := New(Config{Store: st, Audit: log, Settings: set, Agents: ag, Sessions: sess, Live: hub, Clock: clk,
		NewID: func() string { n++; return fmt.Sprintf("id%d", n) }})
	return &rig{m: m, st: st, set: set, agents: ag, clk: clk, events: events}
}

func (r *rig) submit(t *testing.T, agentID string) wire.SupportRequestResult {
	t.Helper()
	if !r.m.HandleAgent("d1", &wire.SupportRequest{RequestID: agentID, Name: "Ann", Email: "ann@example.com", Reason: "VPN"}) {
		t.Fatal("support request not handled")
	}
	res := r.agents.results()
	return res[len(res)-1]
}

func (r *rig) actions(t *testing.T) []string {
	t.Helper()
	recs, err := r.st.AuditRecords(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rec := range recs {
		out = append(out, rec.Action)
	}
	return out
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSubmitApprove(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if res := r.submit(t, "a1"); res.Status != wire.RequestQueued {
		t.Fatalf("first result = %+v, want queued", res)
	}
	if ev := <-r.events; ev.Type != "request" || ev.Data.(Event).Status != store.RequestPending || ev.Data.(Event).Hostname != "laptop-7" {
		t.Fatalf("live event = %+v", ev)
	}
	if res := r.submit(t, "a2"); res.Status != wire.RequestRefused {
		t.Fatalf("second request while one is pending = %+v, want refused", res)
	}
	list, err := r.m.List(ctx, store.RequestPending)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	v := list[0]
	if v.Kind != KindSupport || v.User != "ann" || v.ContactEmail != "ann@example.com" || v.Reason != "VPN" || v.Hostname != "laptop-7" {
		t.Fatalf("view = %+v", v)
	}
	r.clk.Advance(90 * time.Second)
	if list, _ := r.m.List(ctx, ""); list[0].AgeSeconds != 90 {
		t.Fatalf("age = %d, want 90", list[0].AgeSeconds)
	}
	sid, err := r.m.Approve(ctx, v.ID, Decision{By: "tech", Comment: "on it"})
	if err != nil {
		t.Fatal(err)
	}
	starts := r.agents.sessionStarts()
	if len(starts) != 1 || starts[0].SessionID != sid || starts[0].Requester != "tech" {
		t.Fatalf("session starts = %+v, want one for %s by tech", starts, sid)
	}
	res := r.agents.results()
	if last := res[len(res)-1]; last.RequestID != "a1" || last.Status != wire.RequestApproved || last.By != "tech" {
		t.Fatalf("outcome = %+v", last)
	}
	got, _ := r.st.Request(ctx, v.ID)
	if got.Status != store.RequestApproved || got.SessionID != sid || got.DecidedBy != "tech" || got.Comment != "on it" {
		t.Fatalf("stored = %+v", got)
	}
	if _, err := r.m.Approve(ctx, v.ID, Decision{By: "other"}); !errors.Is(err, store.ErrNotPending) {
		t.Fatalf("second approval = %v, want ErrNotPending", err)
	}
	if err := r.m.Deny(ctx, v.ID, Decision{By: "other"}); !errors.Is(err, store.ErrNotPending) {
		t.Fatalf("deny after approval = %v, want ErrNotPending", err)
	}
	for _, a := range []string{"request.created", "request.approved", "session.requested"} {
		if !has(r.actions(t), a) {
			t.Errorf("audit has no %s", a)
		}
	}
}

func TestDenyAndExpire(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.submit(t, "a1")
	list, _ := r.m.List(ctx, store.RequestPending)
	if err := r.m.Deny(ctx, list[0].ID, Decision{By: "tech", Comment: "call the desk\x07"}); !errors.Is(err, ErrComment) {
		t.Fatalf("deny with a control character = %v, want ErrComment", err)
	}
	if err := r.m.Deny(ctx, list[0].ID, Decision{By: "tech", Comment: "call the desk"}); err != nil {
		t.Fatal(err)
	}
	res := r.agents.results()
	if last := res[len(res)-1]; last.Status != wire.RequestDenied || last.Message != "call the desk" || last.By != "tech" {
		t.Fatalf("outcome = %+v", last)
	}

	// A second request expires after requests.expiry_minutes (30 by default).
	r.submit(t, "a2")
	r.clk.Advance(29 * time.Minute)
	if n, err := r.m.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("ExpireDue before the deadline = %d, %v", n, err)
	}
	r.clk.Advance(time.Minute)
	if n, err := r.m.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue at the deadline = %d, %v", n, err)
	}
	res = r.agents.results()
	if last := res[len(res)-1]; last.RequestID != "a2" || last.Status != wire.RequestExpired {
		t.Fatalf("outcome = %+v", last)
	}
	for _, a := range []string{"request.denied", "request.expired"} {
		if !has(r.actions(t), a) {
			t.Errorf("audit has no %s", a)
		}
	}
}

func TestRefusedWhenNotAllowed(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if err := r.st.CreateGroup(ctx, store.Group{ID: "g1", Name: "kiosks"}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.SetDeviceGroup(ctx, "d1", "g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.set.Set(ctx, settings.GroupScope("g1"), settings.AllowRemoteSupport, "false"); err != nil {
		t.Fatal(err)
	}
	res := r.submit(t, "a1")
	if res.Status != wire.RequestRefused || res.Message == "" {
		t.Fatalf("result = %+v, want refused with a message", res)
	}
	if list, _ := r.m.List(ctx, ""); len(list) != 0 {
		t.Fatalf("queue = %+v, want empty", list)
	}
	if !has(r.actions(t), "request.refused") {
		t.Error("audit has no request.refused")
	}
}

// deciderFake records what the queue asks of a kind's Decider.
type deciderFake struct {
	grantErr  error
	delivered []string     // request ids, with the status they had when delivered
	told      []string     // "id status message by"
	st        *store.Store // to see the status at delivery
	decisions []Decision
}

func (d *deciderFake) Grant(ctx context.Context, r store.Request, dec Decision) (Grant, error) {
	d.decisions = append(d.decisions, dec)
	if d.grantErr != nil {
		return Grant{}, d.grantErr
	}
	return Grant{Details: map[string]any{"minutes": dec.Minutes}, Deliver: func() error {
		got, err := d.st.Request(ctx, r.ID)
		d.delivered = append(d.delivered, r.ID+" "+got.Status)
		return err
	}}, nil
}

func (d *deciderFake) Tell(r store.Request, status, message, by string) {
	d.told = append(d.told, fmt.Sprintf("%s %s %s %s", r.ID, status, message, by))
}

func (d *deciderFake) MaxMinutes(context.Context, string) (int, error) { return 45, nil }

// TestDispatchByKind: requests of a kind with a Decider are queued once,
// listed with the Decider's bound, approved through its Grant (delivered
// only after the request is marked approved; a refused grant leaves it
// pending), and their denials and expiries are told through it.
func TestDispatchByKind(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if err := r.m.Queue(ctx, store.Request{ID: "e1", Kind: KindElevation, DeviceID: "d1", Requester: "bob"}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Queue without a Decider = %v, want ErrUnsupported", err)
	}
	dec := &deciderFake{st: r.st}
	r.m.Register(KindElevation, dec)
	asked := r.clk.Now().Add(-time.Minute)
	for _, id := range []string{"e1", "e1", "e2", "e3"} { // e1 twice: a re-delivered event
		if err := r.m.Queue(ctx, store.Request{ID: id, Kind: KindElevation, DeviceID: "d1", Requester: "bob", Reason: "printer",
			Payload: `{"agent_ref":"x"}`, CreatedAt: asked}); err != nil {
			t.Fatal(err)
		}
	}
	if ev := <-r.events; ev.Type != "request" || ev.ID != "e1" || ev.Data.(Event).Kind != KindElevation || ev.Data.(Event).Hostname != "laptop-7" {
		t.Fatalf("live event = %+v", ev)
	}
	list, err := r.m.List(ctx, store.RequestPending)
	if err != nil || len(list) != 3 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	for _, v := range list {
		if v.MaxMinutes != 45 || v.AgeSeconds != 60 || v.User != "bob" || v.Reason != "printer" {
			t.Errorf("view = %+v", v)
		}
	}

	dec.grantErr = errors.New("device offline")
	if _, err := r.m.Approve(ctx, "e1", Decision{By: "tech", Minutes: 30}); !errors.Is(err, dec.grantErr) {
		t.Fatalf("Approve with a refused grant = %v", err)
	}
	if got, _ := r.st.Request(ctx, "e1"); got.Status != store.RequestPending || len(dec.delivered) != 0 {
		t.Fatalf("after a refused grant: %+v, delivered %v", got, dec.delivered)
	}
	dec.grantErr = nil
	if sid, err := r.m.Approve(ctx, "e1", Decision{By: "tech", Comment: "ok", Minutes: 30}); err != nil || sid != "" {
		t.Fatalf("Approve = %q, %v", sid, err)
	}
	if d := cmp.Diff([]string{"e1 approved"}, dec.delivered); d != "" {
		t.Errorf("delivered (-want +got):\n%s", d)
	}
	if last := dec.decisions[len(dec.decisions)-1]; last.By != "tech" || last.Minutes != 30 {
		t.Errorf("decision = %+v", last)
	}
	if _, err := r.m.Approve(ctx, "e1", Decision{By: "tech", Minutes: 30}); !errors.Is(err, store.ErrNotPending) {
		t.Errorf("second approval = %v", err)
	}
	if err := r.m.Deny(ctx, "e2", Decision{By: "tech", Comment: "no"}); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(30 * time.Minute)
	if n, err := r.m.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v", n, err)
	}
	want := []string{"e2 denied no tech", "e3 expired Nobody from IT support picked up your request in time. Please try again or call the help desk. "}
	if d := cmp.Diff(want, dec.told); d != "" {
		t.Errorf("told (-want +got):\n%s", d)
	}
	if len(r.agents.results()) != 0 {
		t.Errorf("support results sent for elevation requests: %+v", r.agents.results())
	}
	n := map[string]int{}
	for _, a := range r.actions(t) {
		n[a]++
	}
	if n["request.created"] != 3 || n["request.approved"] != 1 || n["request.denied"] != 1 || n["request.expired"] != 1 {
		t.Errorf("audit counts %v", n)
	}
}
