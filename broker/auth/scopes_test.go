package auth

import (
	"errors"
	"slices"
	"testing"
)

// TestVocabulary: every role permission has exactly one scope, and every
// scope name is area:verb and unique.
func TestVocabulary(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Vocabulary {
		if seen[d.Name] {
			t.Errorf("scope %s twice", d.Name)
		}
		seen[d.Name] = true
		if _, err := ParseScopes([]string{d.Name}); err != nil {
			t.Errorf("%s: %v", d.Name, err)
		}
	}
	for _, perms := range grants {
		for p := range perms {
			if ScopeOf(p) == "" {
				t.Errorf("permission %s has no scope", p)
			}
		}
	}
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		in   []string
		want Scopes
		ok   bool
	}{
		{[]string{"devices:read,sessions:*"}, Scopes{"devices:read", "sessions:*"}, true},
		{[]string{"sessions:write", "devices:read", "devices:read"}, Scopes{"devices:read", "sessions:write"}, true},
		{[]string{"*"}, Scopes{"*"}, true},
		{[]string{"devices:destroy"}, nil, false},
		{[]string{"nothing:*"}, nil, false},
		{[]string{"devices"}, nil, false},
		{[]string{" , "}, nil, false},
		{nil, nil, false},
	}
	for _, tc := range tests {
		got, err := ParseScopes(tc.in)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadScope)) || !slices.Equal(got, tc.want) {
			t.Errorf("ParseScopes(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestScopesAllowAndCover(t *testing.T) {
	ro, rw := Scopes{"devices:read"}, Scopes{"devices:read", "sessions:*"}
	tests := []struct {
		s    Scopes
		perm Permission
		want bool
	}{
		{nil, ConnectDevice, true},
		{Scopes{}, ViewDevices, false},
		{ro, ViewDevices, true},
		{ro, ConnectDevice, false},
		{rw, ConnectDevice, true},
		{rw, TerminateSession, true},
		{rw, ViewAudit, false},
		{Scopes{"*"}, ManageUsers, true},
		{ro, "", false},
	}
	for _, tc := range tests {
		if got := tc.s.Allows(tc.perm); got != tc.want {
			t.Errorf("%q.Allows(%s) = %v", tc.s, tc.perm, got)
		}
	}
	covers := []struct {
		have, req Scopes
		want      bool
	}{
		{nil, Scopes{"*"}, true},
		{rw, ro, true},
		{rw, Scopes{"sessions:terminate"}, true},
		{ro, rw, false},
		{rw, Scopes{"*"}, false},
		{Scopes{"*"}, rw, true},
		{rw, nil, false}, // an unrestricted token is wider than any scoped one
	}
	for _, tc := range covers {
		if got := tc.have.Covers(tc.req); got != tc.want {
			t.Errorf("%q.Covers(%q) = %v", tc.have, tc.req, got)
		}
	}
}

// TestPrincipalRights: a device permission holds by role on every device,
// on the bound groups only, or — under access.standing = none — nowhere
// (admins excepted); token scopes cut every permission.
func TestPrincipalRights(t *testing.T) {
	tech := Principal{Role: Technician}
	bound := Principal{Role: Technician, GroupBound: true, Groups: []string{"A"}}
	boundNowhere := Principal{Role: Technician, GroupBound: true}
	none := Principal{Role: Technician, NoStanding: true}
	adminNone := Principal{Role: Admin, NoStanding: true}
	scoped := Principal{Role: Technician, Scopes: Scopes{"devices:read"}}
	tests := []struct {
		name  string
		p     Principal
		perm  Permission
		group string
		can   bool // everywhere
		on    bool // on group
	}{
		{"technician connects anywhere", tech, ConnectDevice, "B", true, true},
		{"bound technician on their group", bound, ConnectDevice, "A", false, true},
		{"bound technician elsewhere", bound, BreakGlass, "B", false, false},
		{"bound technician, device in no group", bound, IssueElevationCode, "", false, false},
		{"bound technician's other rights stay", bound, ViewRequests, "B", true, true},
		{"bound to no group left", boundNowhere, ConnectDevice, "A", false, false},
		{"no standing: technician", none, ConnectDevice, "A", false, false},
		{"no standing: other rights stay", none, ViewDevices, "A", true, true},
		{"no standing: admin keeps", adminNone, BreakGlass, "A", true, true},
		{"scope cuts the role", scoped, ConnectDevice, "A", false, false},
		{"scope lets through", scoped, ViewDevices, "A", true, true},
		{"auditor never connects", Principal{Role: Auditor}, ConnectDevice, "A", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Can(tc.perm); got != tc.can {
				t.Errorf("Can(%s) = %v", tc.perm, got)
			}
			if got := tc.p.CanOn(tc.perm, tc.group); got != tc.on {
				t.Errorf("CanOn(%s, %q) = %v", tc.perm, tc.group, got)
			}
		})
	}
}
