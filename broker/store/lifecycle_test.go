package store

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestChangeUserKeepsAnAdmin: no change leaves the broker without an
// enabled admin, whoever makes it; bindings need existing groups; a deleted
// group's binding goes but the user stays bound (to nothing, not everywhere).
func TestChangeUserKeepsAnAdmin(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Unix(1700000000, 0)
	for _, u := range []User{{ID: "a1", Username: "ann", Role: "admin"}, {ID: "a2", Username: "ada", Role: "admin"}, {ID: "t1", Username: "tom", Role: "technician"}} {
		u.PasswordHash, u.CreatedAt = "h", now
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	on, auditor, tech := true, "auditor", "technician"
	if _, _, err := s.ChangeUser(ctx, "a2", UserChange{Disabled: &on}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]UserChange{
		"disable": {Disabled: &on}, "demote": {Role: &auditor}, "delete": {Disabled: &on, DeletedAt: &now},
	} {
		if _, _, err := s.ChangeUser(ctx, "a1", c); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("%s the last enabled admin: %v", name, err)
		}
	}
	if u, _ := s.UserByID(ctx, "a1"); u.Disabled || u.Role != "admin" || u.Deleted() {
		t.Fatalf("refused change applied: %+v", u)
	}
	// Bindings.
	if err := s.CreateGroup(ctx, Group{ID: "gA", Name: "A", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	bad := []string{"gA", "nosuch"}
	if _, _, err := s.ChangeUser(ctx, "t1", UserChange{Groups: &bad}); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("binding on an unknown group: %v", err)
	}
	groups := []string{"gA", "gA"}
	before, after, err := s.ChangeUser(ctx, "t1", UserChange{Role: &tech, Groups: &groups})
	if err != nil || before.User.GroupBound || !after.User.GroupBound || !slices.Equal(after.Groups, []string{"gA", "gA"}) {
		t.Fatalf("bind: %+v %+v %v", before, after, err)
	}
	if gs, _ := s.UserGroups(ctx, "t1"); !slices.Equal(gs, []string{"gA"}) {
		t.Fatalf("groups %v", gs)
	}
	plan, err := s.PlanGroupDeletion(ctx, "gA")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteGroup(ctx, plan, false); err != nil {
		t.Fatal(err)
	}
	u, _ := s.UserByID(ctx, "t1")
	if gs, _ := s.UserGroups(ctx, "t1"); !u.GroupBound || len(gs) != 0 {
		t.Fatalf("after the group's deletion: bound %v, groups %v", u.GroupBound, gs)
	}
	// Restore writes the old state back.
	if err := s.RestoreUser(ctx, before); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.UserByID(ctx, "t1"); u.GroupBound {
		t.Fatal("restore kept the binding")
	}
	// A tombstone is not changed any more.
	if _, _, err := s.ChangeUser(ctx, "t1", UserChange{Disabled: &on, DeletedAt: &now}); err != nil {
		t.Fatal(err)
	}
	off := false
	if _, _, err := s.ChangeUser(ctx, "t1", UserChange{Disabled: &off}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("enable a deleted user: %v", err)
	}
	if u, _ := s.UserByName(ctx, "tom"); !u.Deleted() || !u.Disabled {
		t.Fatalf("tombstone %+v", u)
	}
}

// TestAPITokenRows: revoking a user's tokens lists the ones that still
// worked; a revoked token stays revoked; an unknown one is ErrNotFound.
func TestAPITokenRows(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Unix(1700000000, 0)
	if err := s.CreateUser(ctx, User{ID: "u1", Username: "ann", PasswordHash: "h", Role: "technician", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []APIToken{
		{ID: "t1", Hash: "h1", Kind: TokenAPI, Scopes: []string{"devices:read", "sessions:*"}, ExpiresAt: now.Add(time.Hour)},
		{ID: "t2", Hash: "h2", ExpiresAt: now.Add(time.Hour)},
		{ID: "t3", Hash: "h3", ExpiresAt: now.Add(-time.Hour)},
	} {
		tok.UserID, tok.CreatedAt = "u1", now.Add(-2*time.Hour)
		if err := s.CreateAPIToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.APITokenByHash(ctx, "h1"); got.Kind != TokenAPI || !slices.Equal(got.Scopes, []string{"devices:read", "sessions:*"}) {
		t.Fatalf("token %+v", got)
	}
	if got, _ := s.APITokenByHash(ctx, "h2"); got.Kind != TokenCLI || got.Scopes != nil {
		t.Fatalf("cli token %+v", got)
	}
	if err := s.RevokeAPIToken(ctx, "t2", now); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIToken(ctx, "nosuch", now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	ids, err := s.RevokeUserAPITokens(ctx, "u1", now)
	if err != nil || !slices.Equal(ids, []string{"t1"}) {
		t.Fatalf("revoked %v, %v", ids, err)
	}
	all, _ := s.UserAPITokens(ctx, "u1")
	for _, tok := range all {
		if !tok.Revoked && tok.ID != "t3" {
			t.Errorf("%s not revoked", tok.ID)
		}
	}
	if got, _ := s.APITokenByID(ctx, "t2"); !got.RevokedAt.Equal(now) {
		t.Fatalf("t2 revoked at %v", got.RevokedAt)
	}
}
