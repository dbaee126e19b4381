package requests

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"porthole/broker/store"
	"porthole/internal/wire"
)

// TestOutcomeResentUntilAcked: outcomes decided while the agent is offline
// are resent, oldest first, when it comes online; an acknowledgement
// stops the resending and is audited once with how late it was; outcomes
// older than OutcomeWindow are not resent.
func TestOutcomeResentUntilAcked(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.submit(t, "old")
	r.agents.setOffline(true)
	r.clk.Advance(time.Hour) // past requests.expiry_minutes
	if n, err := r.m.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v", n, err)
	}
	r.clk.Advance(OutcomeWindow) // "old" expired too long ago to resend
	r.agents.setOffline(false)
	r.submit(t, "exp")
	r.agents.setOffline(true)
	r.clk.Advance(time.Hour)
	if n, err := r.m.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v", n, err)
	}
	r.agents.setOffline(false)
	r.submit(t, "den")
	r.agents.setOffline(true)
	pending, _ := r.m.List(ctx, store.RequestPending)
	r.clk.Advance(time.Minute)
	if err := r.m.Deny(ctx, pending[0].ID, Decision{By: "tech", Comment: "call the desk"}); err != nil {
		t.Fatal(err)
	}
	before := len(r.agents.results())

	r.clk.Advance(2 * time.Minute)
	r.agents.setOffline(false)
	r.m.Resend(ctx, "d1")
	got := r.agents.results()[before:]
	for i := range got {
		got[i].RequestedAt = time.Time{}
	}
	want := []wire.SupportRequestResult{
		{RequestID: "exp", Status: wire.RequestExpired, Message: expiredText},
		{RequestID: "den", Status: wire.RequestDenied, Message: "call the desk", By: "tech"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("resent (-want +got):\n%s", d)
	}

	for _, id := range []string{"den", "den", "unknown", "old"} { // acked twice; one nobody has; one out of the window
		if !r.m.HandleAgent("d1", &wire.RequestOutcomeAck{RequestID: id}) {
			t.Fatal("ack not handled")
		}
	}
	before = len(r.agents.results())
	r.m.Resend(ctx, "d1")
	got = r.agents.results()[before:]
	if len(got) != 1 || got[0].RequestID != "exp" {
		t.Fatalf("resent after acking den: %+v", got)
	}
	if err := r.m.Acked(ctx, "d2", "exp"); err != nil { // another device's ack
		t.Fatal(err)
	}
	r.m.HandleAgent("d1", &wire.RequestOutcomeAck{RequestID: "exp"})
	before = len(r.agents.results())
	r.m.Resend(ctx, "d1")
	if got := r.agents.results()[before:]; len(got) != 0 {
		t.Fatalf("resent after every ack: %+v", got)
	}

	recs, err := r.st.AuditRecords(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var delivered []map[string]any
	for _, rec := range recs {
		if rec.Action != DeliveredAction {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(rec.Details), &d); err != nil {
			t.Fatal(err)
		}
		if rec.Actor != "device:d1" {
			t.Errorf("actor = %q", rec.Actor)
		}
		delivered = append(delivered, map[string]any{"status": d["status"], "late_seconds": d["late_seconds"]})
	}
	wantAudit := []map[string]any{
		{"status": "denied", "late_seconds": float64(120)},
		{"status": "expired", "late_seconds": float64(180)},
	}
	if d := cmp.Diff(wantAudit, delivered); d != "" {
		t.Errorf("request.outcome_delivered (-want +got):\n%s", d)
	}
}

// TestOutcomeAckedLive: an outcome told while the agent is connected is
// acknowledged and then never resent.
func TestOutcomeAckedLive(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.submit(t, "a1")
	pending, _ := r.m.List(ctx, store.RequestPending)
	if err := r.m.Deny(ctx, pending[0].ID, Decision{By: "tech"}); err != nil {
		t.Fatal(err)
	}
	res := r.agents.results()
	if last := res[len(res)-1]; last.Status != wire.RequestDenied || !last.RequestedAt.Equal(r.clk.Now()) {
		t.Fatalf("outcome = %+v", last)
	}
	r.m.HandleAgent("d1", &wire.RequestOutcomeAck{RequestID: "a1"})
	before := len(r.agents.results())
	r.m.Resend(ctx, "d1")
	if got := r.agents.results()[before:]; len(got) != 0 {
		t.Fatalf("resent an acknowledged outcome: %+v", got)
	}
}

// refDecider is a Decider whose requests carry the agent's ref.
type refDecider struct{ deciderFake }

func (d *refDecider) AgentRef(r store.Request) string {
	var p struct {
		AgentRef string `json:"agent_ref"`
	}
	_ = json.Unmarshal([]byte(r.Payload), &p)
	return p.AgentRef
}

// TestDeciderOutcomeResent: a denial of a kind with a Decider (elevation)
// decided while the agent is offline is told again through the Decider
// when it comes online, and the agent's acknowledgement, naming its own
// ref, stops it.
func TestDeciderOutcomeResent(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	dec := &refDecider{deciderFake{st: r.st}}
	r.m.Register(KindElevation, dec)
	if err := r.m.Queue(ctx, store.Request{ID: "e1", Kind: KindElevation, DeviceID: "d1", Requester: "bob", Reason: "printer",
		Payload: `{"agent_ref":"x1"}`}); err != nil {
		t.Fatal(err)
	}
	if err := r.m.Deny(ctx, "e1", Decision{By: "tech", Comment: "no"}); err != nil { // the fake Decider "misses" it: offline
		t.Fatal(err)
	}
	r.m.Resend(ctx, "d1")
	if d := cmp.Diff([]string{"e1 denied no tech", "e1 denied no tech"}, dec.told); d != "" {
		t.Fatalf("told (-want +got):\n%s", d)
	}
	r.m.HandleAgent("d1", &wire.RequestOutcomeAck{RequestID: "x1"})
	r.m.Resend(ctx, "d1")
	if len(dec.told) != 2 {
		t.Fatalf("told after the ack: %q", dec.told)
	}
	if !has(r.actions(t), DeliveredAction) {
		t.Errorf("audit has no %s", DeliveredAction)
	}
}
