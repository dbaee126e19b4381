package access

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/broker/audit"
	"porthole/broker/policy"
	"porthole/broker/requests"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type rig struct {
	s      *Service
	st     *store.Store
	log    *audit.Log
	clk    *clocktest.Fake
	group  string
	device string // a device in group
	n      int
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	r := &rig{st: st, clk: clk, log: audit.New(st, clk), group: "g1", device: "d1"}
	if err := st.CreateGroup(ctx, store.Group{ID: r.group, Name: "servers", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	if err := st.CreateEnrollToken(ctx, store.EnrollToken{ID: "tok", Hash: "h", CreatedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Enroll(ctx, "h", now, store.Device{ID: r.device, PublicKey: []byte("k"), SecretSealed: []byte{1}, Hostname: "pc-1"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetDeviceGroup(ctx, r.device, r.group); err != nil {
		t.Fatal(err)
	}
	r.s = New(Config{Store: st, Audit: r.log, Settings: settings.New(st), Clock: clk, NewID: func() string { r.n++; return fmt.Sprintf("id%d", r.n) }})
	return r
}

var (
	admin = Actor{Principal: policy.Principal{User: "ann", Role: "admin"}, Admin: true}
	tech  = Actor{Principal: policy.Principal{User: "tom", Role: "technician"}}
	apr1  = Actor{Principal: policy.Principal{User: "amy", Role: "approver"}}
	apr2  = Actor{Principal: policy.Principal{User: "al", Role: "approver"}}
	oncal = Actor{Principal: policy.Principal{User: "oscar", Role: "technician"}}
)

func (r *rig) entitlement(t *testing.T, name string, emergency *policy.Policy) EntitlementView {
	t.Helper()
	v, err := r.s.PutEntitlement(context.Background(), admin, policy.Entitlement{Name: name, Group: r.group,
		Request:   policy.Policy{Approvers: []string{"role:approver"}, Approvals: 2, MaxDuration: 4 * time.Hour, JustificationRequired: true},
		Emergency: emergency})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (r *rig) actions(t *testing.T, target string) []string {
	t.Helper()
	recs, err := r.log.Query(context.Background(), audit.Filter{Target: target, Action: "access.*", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rec := range recs {
		out = append(out, rec.Action)
	}
	slices.Sort(out)
	return out
}

func TestTwoApprovalsThenGrantExpires(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.entitlement(t, RemoteSupport, nil)
	if _, err := r.s.Create(ctx, tech, NewRequest{Name: RemoteSupport, Duration: time.Hour}); !errors.Is(err, policy.ErrJustification) {
		t.Fatalf("no justification: %v", err)
	}
	if _, err := r.s.Create(ctx, tech, NewRequest{Name: RemoteSupport, Duration: time.Hour, Justification: "x", Emergency: true}); !errors.Is(err, policy.ErrNoEmergency) {
		t.Fatalf("emergency without a path: %v", err)
	}
	v, err := r.s.Create(ctx, tech, NewRequest{Name: RemoteSupport, Group: "servers", Duration: time.Hour, Justification: "ticket 42"})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != policy.Pending || v.CanApprove || !v.CanCancel || v.CanEscalate {
		t.Fatalf("new request as requester: %+v", v)
	}
	// The requester is no approver; an admin is not one under this policy either.
	for _, who := range []Actor{tech, admin} {
		if _, err := r.s.Do(ctx, who, v.ID, StepApprove, ""); !errors.Is(err, policy.ErrNotApprover) {
			t.Fatalf("approve as %s: %v", who.User, err)
		}
	}
	if v, err = r.s.Do(ctx, apr1, v.ID, StepApprove, "ok"); err != nil || v.State != policy.Pending || len(v.Approvals) != 1 {
		t.Fatalf("first approval: %+v %v", v, err)
	}
	if _, err := r.s.Do(ctx, apr1, v.ID, StepApprove, ""); !errors.Is(err, policy.ErrAlreadyApproved) {
		t.Fatalf("second approval by the same user: %v", err)
	}
	if v, err = r.s.Do(ctx, apr2, v.ID, StepApprove, ""); err != nil || v.State != policy.Approved || !v.Active {
		t.Fatalf("second approval: %+v %v", v, err)
	}
	if g, ok, err := r.s.Holding(ctx, "tom", RemoteSupport, r.group); err != nil || !ok || g.RequestID != v.ID {
		t.Fatalf("holding: %+v %v %v", g, ok, err)
	}
	for _, other := range []struct{ user, name, group string }{{"ann", RemoteSupport, r.group}, {"tom", BreakGlass, r.group},
		{"tom", RemoteSupport, "other-group"}} {
		if _, ok, err := r.s.Holding(ctx, other.user, other.name, other.group); err != nil || ok {
			t.Fatalf("holding %+v: %v %v", other, ok, err)
		}
	}
	if ok, err := r.s.Covers(ctx, v.ID, r.device); err != nil || !ok {
		t.Fatalf("covers the group's device before the end: %v %v", ok, err)
	}
	if ok, err := r.s.Covers(ctx, v.ID, "device-elsewhere"); err != nil || ok {
		t.Fatalf("covers a device outside the group: %v %v", ok, err)
	}
	// The generic queue cannot decide it behind the policy's back.
	row, _ := r.st.Request(ctx, v.ID)
	if row.Status != store.RequestApproved || row.Kind != requests.KindAccess || !row.ExpiresAt.Equal(r.clk.Now().Add(time.Hour)) {
		t.Fatalf("queue row: %+v", row)
	}
	r.clk.Advance(time.Hour)
	if n, err := r.s.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if gs, err := r.s.Grants(ctx); err != nil || len(gs) != 0 {
		t.Fatalf("grants after expiry: %+v %v", gs, err)
	}
	if ok, err := r.s.Covers(ctx, v.ID, r.device); err != nil || ok {
		t.Fatalf("covers after the end: %v %v", ok, err)
	}
	if ok, err := r.s.Covers(ctx, "no-such-request", r.device); err != nil || ok {
		t.Fatalf("covers for an unknown id: %v %v", ok, err)
	}
	want := []string{"access.approved", "access.approved", "access.expired", "access.granted", "access.requested"}
	if got := r.actions(t, v.ID); !slices.Equal(got, want) {
		t.Fatalf("audit %v, want %v", got, want)
	}
}

func TestEmergency(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		emergency policy.Policy
		escalate  bool // file a normal request, then escalate it
		approver  Actor
	}{
		{"auto-approve", policy.Policy{AutoApprove: true, MaxDuration: time.Hour}, false, Actor{}},
		{"one on-call approval", policy.Policy{Approvers: []string{"user:oscar"}, Approvals: 1, MaxDuration: time.Hour}, false, oncal},
		{"escalated then on-call", policy.Policy{Approvers: []string{"user:oscar"}, Approvals: 1, MaxDuration: time.Hour}, true, oncal},
		{"escalated auto-approve", policy.Policy{AutoApprove: true, MaxDuration: time.Hour}, true, Actor{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.entitlement(t, BreakGlass, &tc.emergency)
			v, err := r.s.Create(ctx, tech, NewRequest{Name: BreakGlass, Duration: 30 * time.Minute, Justification: "db down", Emergency: !tc.escalate})
			if err != nil {
				t.Fatal(err)
			}
			if tc.escalate {
				if !v.CanEscalate {
					t.Fatalf("cannot escalate: %+v", v)
				}
				if _, err := r.s.Do(ctx, apr1, v.ID, StepEscalate, ""); !errors.Is(err, policy.ErrNotRequester) {
					t.Fatalf("escalate by another: %v", err)
				}
				if v, err = r.s.Do(ctx, tech, v.ID, StepEscalate, ""); err != nil || !v.Emergency {
					t.Fatalf("escalate: %+v %v", v, err)
				}
			}
			if tc.approver.User != "" {
				// The normal policy's approvers no longer count.
				if _, err := r.s.Do(ctx, apr1, v.ID, StepApprove, ""); !errors.Is(err, policy.ErrNotApprover) {
					t.Fatalf("normal approver on an emergency request: %v", err)
				}
				if v, err = r.s.Do(ctx, tc.approver, v.ID, StepApprove, ""); err != nil {
					t.Fatal(err)
				}
			}
			if v.State != policy.Approved || !v.NeedsReview || !v.Emergency {
				t.Fatalf("emergency grant: %+v", v)
			}
			reviews, err := r.s.List(ctx, admin, Filter{NeedsReview: true})
			if err != nil || len(reviews) != 1 || !reviews[0].CanReview {
				t.Fatalf("needs review: %+v %v", reviews, err)
			}
			if _, err := r.s.Do(ctx, apr1, v.ID, StepReview, ""); !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("review by a non-admin: %v", err)
			}
			if v, err = r.s.Do(ctx, admin, v.ID, StepRevoke, "done"); err != nil || v.State != policy.Revoked {
				t.Fatalf("revoke: %+v %v", v, err)
			}
			if v, err = r.s.Do(ctx, admin, v.ID, StepReview, ""); err != nil || v.NeedsReview || v.ReviewedBy != "ann" {
				t.Fatalf("review: %+v %v", v, err)
			}
			got := r.actions(t, v.ID)
			for _, a := range []string{"access.requested", "access.granted", "access.revoked", "access.reviewed"} {
				if !slices.Contains(got, a) {
					t.Errorf("audit %v lacks %s", got, a)
				}
			}
		})
	}
}

func TestPendingExpiresAndVisibility(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.entitlement(t, UnattendedAccess, nil)
	v, err := r.s.Create(ctx, tech, NewRequest{Name: UnattendedAccess, Duration: time.Hour, Justification: "patching"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who  Actor
		want int
	}{{tech, 1}, {apr1, 1}, {admin, 1}, {oncal, 0}} {
		if vs, err := r.s.List(ctx, tc.who, Filter{}); err != nil || len(vs) != tc.want {
			t.Errorf("%s sees %d (%v), want %d", tc.who.User, len(vs), err, tc.want)
		}
	}
	if _, err := r.s.Get(ctx, oncal, v.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get as a stranger: %v", err)
	}
	r.clk.Advance(30 * time.Minute) // requests.expiry_minutes default
	if _, err := r.s.Do(ctx, apr1, v.ID, StepApprove, ""); !errors.Is(err, policy.ErrState) {
		t.Fatalf("approve after the deadline: %v", err)
	}
	if v, err = r.s.Get(ctx, tech, v.ID); err != nil || v.State != policy.Expired {
		t.Fatalf("after the deadline: %+v %v", v, err)
	}
}

func TestEntitlementValidation(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	ok := policy.Policy{Approvers: []string{"role:admin"}, Approvals: 1, MaxDuration: time.Hour}
	for _, tc := range []struct {
		name string
		ent  policy.Entitlement
		want error
	}{
		{"unknown name", policy.Entitlement{Name: "root", Group: r.group, Request: ok}, ErrUnknownName},
		{"no group", policy.Entitlement{Name: BreakGlass, Group: "nope", Request: ok}, store.ErrNotFound},
		{"bad policy", policy.Entitlement{Name: BreakGlass, Group: r.group, Request: policy.Policy{Approvals: 1, MaxDuration: time.Hour}}, policy.ErrInvalid},
	} {
		if _, err := r.s.PutEntitlement(ctx, admin, tc.ent); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	a, err := r.s.PutEntitlement(ctx, admin, policy.Entitlement{Name: BreakGlass, Group: r.group, Request: ok})
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.s.PutEntitlement(ctx, admin, policy.Entitlement{Name: BreakGlass, Group: r.group, Request: ok, Emergency: &ok})
	if err != nil || a.ID != b.ID || b.Emergency == nil {
		t.Fatalf("replace: %+v %+v %v", a, b, err)
	}
	if err := r.s.DeleteEntitlement(ctx, admin, a.ID); err != nil {
		t.Fatal(err)
	}
	if es, _ := r.s.Entitlements(ctx); len(es) != 0 {
		t.Fatalf("after delete: %+v", es)
	}
}

// TestDeletionRevokesGrants: deleting an entitlement, or its group,
// revokes the grants in force under it (audited); other grants stay.
func TestDeletionRevokesGrants(t *testing.T) {
	ctx := context.Background()
	granted := func(t *testing.T, r *rig, name string) string {
		t.Helper()
		v, err := r.s.Create(ctx, tech, NewRequest{Name: name, Duration: time.Hour, Justification: "INC-1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, who := range []Actor{apr1, apr2} {
			if v, err = r.s.Do(ctx, who, v.ID, StepApprove, ""); err != nil {
				t.Fatal(err)
			}
		}
		if !v.Active {
			t.Fatalf("not granted: %+v", v)
		}
		return v.ID
	}
	holds := func(t *testing.T, r *rig, name string) bool {
		t.Helper()
		_, ok, err := r.s.Holding(ctx, tech.User, name, r.group)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	t.Run("entitlement", func(t *testing.T) {
		r := newRig(t)
		bg := r.entitlement(t, BreakGlass, nil)
		r.entitlement(t, RemoteSupport, nil)
		gone, kept := granted(t, r, BreakGlass), granted(t, r, RemoteSupport)
		if err := r.s.DeleteEntitlement(ctx, admin, bg.ID); err != nil {
			t.Fatal(err)
		}
		if holds(t, r, BreakGlass) || !holds(t, r, RemoteSupport) {
			t.Fatalf("after delete: break glass held %v, remote support held %v", holds(t, r, BreakGlass), holds(t, r, RemoteSupport))
		}
		if v, err := r.s.Get(ctx, admin, gone); err != nil || v.State != policy.Revoked || v.Comment != "the entitlement was deleted" {
			t.Fatalf("revoked grant: %+v %v", v, err)
		}
		if a := r.actions(t, gone); !slices.Contains(a, "access.revoked") {
			t.Fatalf("no access.revoked for %s: %v", gone, a)
		}
		if a := r.actions(t, kept); slices.Contains(a, "access.revoked") {
			t.Fatalf("the other grant was revoked: %v", a)
		}
	})
	t.Run("group", func(t *testing.T) {
		r := newRig(t)
		r.entitlement(t, BreakGlass, nil)
		id := granted(t, r, BreakGlass)
		ids, err := r.s.GroupDeleted(ctx, admin, r.group)
		if err != nil || !slices.Equal(ids, []string{id}) {
			t.Fatalf("GroupDeleted: %v %v, want [%s]", ids, err, id)
		}
		if holds(t, r, BreakGlass) {
			t.Fatal("grant still held")
		}
		if ids, err := r.s.GroupDeleted(ctx, admin, r.group); err != nil || len(ids) != 0 {
			t.Fatalf("second call: %v %v", ids, err)
		}
	})
}
