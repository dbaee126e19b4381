package sso

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"porthole/broker/audit"
	"porthole/broker/auth"
	"porthole/broker/conns"
	"porthole/broker/lifecycle"
	"porthole/broker/sessions"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

type noSessions struct{}

func (noSessions) Live() []sessions.Info { return nil }
func (noSessions) EndWhere(context.Context, string, func(context.Context, sessions.Info) (bool, error)) ([]string, error) {
	return nil, nil
}

// TestProvision: users are created just in time from (issuer, subject),
// their role and device-group bindings follow their IdP groups at every
// sign-in (through the lifecycle, audited), and what must not sign in is
// refused with its reason.
func TestProvision(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clocktest.New(time.Unix(1700000000, 0))
	log := audit.New(st, clk)
	life := lifecycle.New(lifecycle.Config{Store: st, Principals: auth.New(st, auth.Config{Clock: clk}), Conns: conns.New(), Sessions: noSessions{},
		Audit: log, Clock: clk})
	for _, u := range []store.User{{ID: "adm", Username: "admin", Role: "admin", PasswordHash: "x"}, {ID: "loc", Username: "ann", Role: "technician", PasswordHash: "x"}} {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateGroup(ctx, store.Group{ID: "g-lab", Name: "lab", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	pr := &Provisioner{Store: st, Roles: life, Audit: log, Clock: clk}
	cfg := ProviderConfig{ID: "okta", Name: "Okta", Issuer: "https://idp", ClientID: "c", StripDomain: true,
		Groups: []GroupMapping{{Group: "admins", Role: "admin"}, {Group: "lab-techs", Role: "technician", DeviceGroups: []string{"lab"}},
			{Group: "helpdesk", Role: "technician"}, {Group: "ghost-techs", Role: "technician", DeviceGroups: []string{"nope"}}}}
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	id := func(sub, name string, groups ...string) Identity {
		return Identity{Provider: "okta", Issuer: "https://idp", Subject: sub, Username: name, Groups: groups}
	}
	reason := func(err error) string {
		var rf *Refusal
		if errors.As(err, &rf) {
			return rf.Reason
		}
		return ""
	}

	u, out, err := pr.Provision(ctx, cfg, id("s1", "Ben@corp.example", "lab-techs"), "10.0.0.1")
	if err != nil || !out.Created || u.Username != "ben" || u.Role != "technician" || !u.GroupBound || u.PasswordHash != "" {
		t.Fatalf("created %+v %+v %v", u, out, err)
	}
	if gs, _ := st.UserGroups(ctx, u.ID); !slices.Equal(gs, []string{"g-lab"}) {
		t.Fatalf("bindings %v", gs)
	}
	// In helpdesk too: technician on every device (an unbound mapping of the same role wins).
	u2, out, err := pr.Provision(ctx, cfg, id("s1", "someone-else", "lab-techs", "helpdesk"), "10.0.0.1")
	if err != nil || out.Created || !out.RoleChanged || u2.ID != u.ID || u2.GroupBound {
		t.Fatalf("widened %+v %+v %v", u2, out, err)
	}
	// Now admin; then again the same: no change.
	if _, out, err = pr.Provision(ctx, cfg, id("s1", "", "helpdesk", "admins"), ""); err != nil || !out.RoleChanged || out.Mapping.Role != "admin" {
		t.Fatalf("promoted %+v %v", out, err)
	}
	if _, out, err = pr.Provision(ctx, cfg, id("s1", "", "admins"), ""); err != nil || out.RoleChanged {
		t.Fatalf("unchanged %+v %v", out, err)
	}
	recs, _ := st.AuditRecords(ctx, store.AuditFilter{Action: "user.role_changed", Limit: 10})
	if len(recs) != 2 || recs[0].Actor != "sso:okta" {
		t.Fatalf("role changes audited: %+v", recs)
	}
	for _, tc := range []struct {
		name string
		id   Identity
		want string
	}{
		{"no mapped group", id("s2", "carl", "staff"), "no_mapped_group"},
		{"no groups at all", id("s2", "carl"), "no_mapped_group"},
		{"a local account's name", id("s3", "ann", "helpdesk"), "name_taken"},
		{"a name that is no username", id("s4", "zoë", "helpdesk"), "username_invalid"},
		{"no name", id("s4", "", "helpdesk"), "username_invalid"},
		{"an unknown device group", id("s5", "dora", "ghost-techs"), "unknown_device_group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := pr.Provision(ctx, cfg, tc.id, ""); reason(err) != tc.want || !errors.Is(err, ErrRefused) {
				t.Fatalf("got %v (%s), want %s", err, reason(err), tc.want)
			}
		})
	}
	// Disabled by an admin: refused until enabled, whatever the groups say.
	if _, err := life.Disable(ctx, lifecycle.Actor{Username: "admin"}, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pr.Provision(ctx, cfg, id("s1", "", "admins"), ""); reason(err) != "disabled" {
		t.Fatalf("disabled: %v", err)
	}
	// The same subject at another issuer is another identity.
	other := id("s1", "ben2", "helpdesk")
	other.Issuer = "https://other-idp"
	if u3, out, err := pr.Provision(ctx, cfg, other, ""); err != nil || !out.Created || u3.ID == u.ID {
		t.Fatalf("other issuer: %+v %v", u3, err)
	}
}
