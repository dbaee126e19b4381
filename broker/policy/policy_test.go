package policy

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

var (
	ann   = Principal{User: "ann", Role: "technician"} // requester
	bob   = Principal{User: "bob", Role: "approver"}
	cat   = Principal{User: "cat", Role: "approver"}
	dan   = Principal{User: "dan", Role: "admin"}
	oncal = Principal{User: "oncall", Role: "technician"}
)

func ent(emergency *Policy) Entitlement {
	return Entitlement{Name: "break_glass", Group: "servers",
		Request:   Policy{Approvers: []string{"role:approver", "role:admin"}, Approvals: 2, MaxDuration: 4 * time.Hour, JustificationRequired: true},
		Emergency: emergency}
}

var oncallOne = &Policy{Approvers: []string{"user:oncall"}, Approvals: 1, MaxDuration: time.Hour}
var autoApprove = &Policy{AutoApprove: true, MaxDuration: time.Hour, JustificationRequired: true}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ent       Entitlement
		d         time.Duration
		why       string
		emergency bool
		want      error
		state     State
	}{
		{"normal", ent(nil), time.Hour, "patch", false, nil, Pending},
		{"too long", ent(nil), 5 * time.Hour, "patch", false, ErrTooLong, ""},
		{"zero duration", ent(nil), 0, "patch", false, ErrInvalid, ""},
		{"justification required", ent(nil), time.Hour, "  ", false, ErrJustification, ""},
		{"emergency not enabled", ent(nil), time.Hour, "fire", true, ErrNoEmergency, ""},
		{"emergency uses its own max", ent(oncallOne), 2 * time.Hour, "fire", true, ErrTooLong, ""},
		{"emergency without justification when its policy allows", ent(oncallOne), time.Hour, "", true, nil, Pending},
		{"emergency auto-approves", ent(autoApprove), time.Hour, "fire", true, nil, Approved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.ent, ann, tc.d, tc.why, tc.emergency, t0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err == nil && r.State != tc.state {
				t.Fatalf("state %s, want %s", r.State, tc.state)
			}
		})
	}
	r, _ := New(ent(autoApprove), ann, time.Hour, "fire", true, t0)
	if !r.NeedsReview || r.DecidedBy != "policy:auto" || !r.ExpiresAt.Equal(t0.Add(time.Hour)) || !r.Active(t0) {
		t.Fatalf("auto-approved emergency grant %+v", r)
	}
}

func TestApprovalsCountedPerPolicy(t *testing.T) {
	type step struct {
		who  Principal
		want error
	}
	for _, tc := range []struct {
		name  string
		steps []step
		state State
	}{
		{"two distinct approvers grant", []step{{bob, nil}, {cat, nil}}, Approved},
		{"one is not enough", []step{{bob, nil}}, Pending},
		{"the same approver twice counts once", []step{{bob, nil}, {bob, ErrAlreadyApproved}}, Pending},
		{"requester cannot approve", []step{{ann, ErrNotApprover}}, Pending},
		{"non-approver refused", []step{{oncal, ErrNotApprover}}, Pending},
		{"after the grant nothing more", []step{{bob, nil}, {dan, nil}, {cat, ErrState}}, Approved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ent(nil)
			r, err := New(e, ann, time.Hour, "patch", false, t0)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				if err := r.Approve(e, s.who, "", t0.Add(time.Duration(i+1)*time.Minute)); !errors.Is(err, s.want) {
					t.Fatalf("step %d (%s): %v, want %v", i, s.who.User, err, s.want)
				}
			}
			if r.State != tc.state {
				t.Fatalf("state %s, want %s", r.State, tc.state)
			}
			if r.State == Approved && (r.NeedsReview || !r.ExpiresAt.Equal(r.DecidedAt.Add(time.Hour))) {
				t.Fatalf("normal grant %+v", r)
			}
		})
	}
}

func TestSelfApproval(t *testing.T) {
	e := ent(nil)
	e.Request.Approvers = append(e.Request.Approvers, "user:ann")
	e.Request.Approvals = 1
	r, _ := New(e, ann, time.Hour, "x", false, t0)
	if err := r.Approve(e, ann, "", t0); !errors.Is(err, ErrSelfApproval) {
		t.Fatalf("self-approval: %v", err)
	}
	if CanApprove(e, r, ann) || !CanApprove(e, r, bob) {
		t.Fatal("CanApprove disagrees with Approve")
	}
	e.Request.AllowSelfApproval = true
	if err := r.Approve(e, ann, "", t0); err != nil || r.State != Approved {
		t.Fatalf("self-approval allowed by policy: %v %s", err, r.State)
	}
}

func TestEscalation(t *testing.T) {
	t.Run("switches to the emergency policy", func(t *testing.T) {
		e := ent(oncallOne)
		r, _ := New(e, ann, time.Hour, "patch", false, t0)
		if err := r.Approve(e, bob, "", t0); err != nil {
			t.Fatal(err)
		}
		if err := r.Escalate(e, bob, t0); !errors.Is(err, ErrNotRequester) {
			t.Fatalf("escalation by another user: %v", err)
		}
		if err := r.Escalate(e, ann, t0); err != nil {
			t.Fatal(err)
		}
		if r.State != Pending || !r.Emergency {
			t.Fatalf("bob is no emergency approver; still pending: %+v", r)
		}
		if err := r.Approve(e, cat, "", t0); !errors.Is(err, ErrNotApprover) {
			t.Fatalf("normal approver on an emergency request: %v", err)
		}
		if err := r.Approve(e, oncal, "go", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if r.State != Approved || !r.NeedsReview || r.DecidedBy != "oncall" {
			t.Fatalf("emergency grant %+v", r)
		}
		if err := r.Escalate(e, ann, t0); !errors.Is(err, ErrState) {
			t.Fatalf("escalating a grant: %v", err)
		}
	})
	t.Run("auto-approving emergency grants at once", func(t *testing.T) {
		e := ent(autoApprove)
		r, _ := New(e, ann, time.Hour, "patch", false, t0)
		if err := r.Escalate(e, ann, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if !r.Active(t0.Add(time.Minute)) || !r.NeedsReview {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("refused", func(t *testing.T) {
		r, _ := New(ent(nil), ann, time.Hour, "patch", false, t0)
		if err := r.Escalate(ent(nil), ann, t0); !errors.Is(err, ErrNoEmergency) {
			t.Fatalf("no emergency policy: %v", err)
		}
		long, _ := New(ent(oncallOne), ann, 3*time.Hour, "patch", false, t0)
		if err := long.Escalate(ent(oncallOne), ann, t0); !errors.Is(err, ErrTooLong) || long.Emergency {
			t.Fatalf("escalation beyond the emergency maximum: %v %+v", err, long)
		}
		r2, _ := New(ent(oncallOne), ann, time.Hour, "", true, t0)
		if err := r2.Escalate(ent(oncallOne), ann, t0); !errors.Is(err, ErrState) {
			t.Fatalf("double escalation: %v", err)
		}
	})
}

func TestDenyCancelRevokeExpireReview(t *testing.T) {
	e := ent(oncallOne)
	r, _ := New(e, ann, time.Hour, "patch", false, t0)
	if err := r.Deny(e, oncal, "", t0); !errors.Is(err, ErrNotApprover) {
		t.Fatalf("deny by a non-approver: %v", err)
	}
	if err := r.Deny(e, bob, "not now", t0); err != nil || r.State != Denied || r.Comment != "not now" {
		t.Fatalf("deny: %v %+v", err, r)
	}
	if err := r.Approve(e, cat, "", t0); !errors.Is(err, ErrState) {
		t.Fatalf("approve after deny: %v", err)
	}

	c, _ := New(e, ann, time.Hour, "patch", false, t0)
	if err := c.Cancel(bob, t0); !errors.Is(err, ErrNotRequester) {
		t.Fatal(err)
	}
	if err := c.Cancel(ann, t0); err != nil || c.State != Cancelled {
		t.Fatal(err)
	}

	g, _ := New(e, ann, time.Hour, "", true, t0)
	_ = g.Approve(e, oncal, "", t0)
	if !g.Active(t0.Add(59*time.Minute)) || g.Active(t0.Add(time.Hour)) {
		t.Fatal("grant window wrong")
	}
	if g.Expire(t0.Add(59*time.Minute), 0) || !g.Expire(t0.Add(time.Hour), 0) || g.State != Expired {
		t.Fatalf("expire: %+v", g)
	}
	if err := g.Revoke(dan, "", t0.Add(2*time.Hour)); !errors.Is(err, ErrState) {
		t.Fatalf("revoke an expired grant: %v", err)
	}
	if err := g.Review(ann, t0); !errors.Is(err, ErrSelfApproval) {
		t.Fatalf("requester reviewing own emergency: %v", err)
	}
	if err := g.Review(dan, t0.Add(3*time.Hour)); err != nil || g.NeedsReview || g.ReviewedBy != "dan" {
		t.Fatalf("review: %v %+v", err, g)
	}
	if err := g.Review(dan, t0); !errors.Is(err, ErrNoReview) {
		t.Fatal(err)
	}

	v, _ := New(e, ann, time.Hour, "", true, t0)
	_ = v.Approve(e, oncal, "", t0)
	if err := v.Revoke(dan, "done early", t0.Add(time.Minute)); err != nil || v.State != Revoked || v.Active(t0.Add(time.Minute)) {
		t.Fatalf("revoke: %v %+v", err, v)
	}
	if !v.NeedsReview {
		t.Fatal("revoking an emergency grant skipped its review")
	}

	p, _ := New(e, ann, time.Hour, "patch", false, t0)
	if p.Expire(t0.Add(time.Hour), 0) {
		t.Fatal("pending request expired without a TTL")
	}
	if !p.Expire(t0.Add(24*time.Hour), 24*time.Hour) || p.State != Expired {
		t.Fatal("pending request not expired after its TTL")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Entitlement
		ok   bool
	}{
		{"good", ent(oncallOne), true},
		{"auto-approve without approvers", ent(autoApprove), true},
		{"no name", Entitlement{Request: ent(nil).Request}, false},
		{"no approvers", Entitlement{Name: "x", Request: Policy{Approvals: 1, MaxDuration: time.Hour}}, false},
		{"zero approvals", Entitlement{Name: "x", Request: Policy{Approvers: []string{"role:admin"}, MaxDuration: time.Hour}}, false},
		{"bad approver", Entitlement{Name: "x", Request: Policy{Approvers: []string{"admin"}, Approvals: 1, MaxDuration: time.Hour}}, false},
		{"no max", Entitlement{Name: "x", Request: Policy{Approvers: []string{"role:admin"}, Approvals: 1}}, false},
		{"bad emergency", Entitlement{Name: "x", Request: ent(nil).Request, Emergency: &Policy{MaxDuration: time.Hour}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.e.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
