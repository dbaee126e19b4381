package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFoldUsernamesMigration: migration 0013 is refused, changing nothing,
// while two accounts differ only in case, and the refusal names them and
// the way out; once one is renamed (with the broker stopped), it folds
// every username and the names that still decide something (access
// requesters and approvals, "user:" approvers), and the database refuses
// unfolded names from then on.
func TestFoldUsernamesMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// The database as migration 0012 left it: names in any case.
	for _, q := range []string{
		`DROP TRIGGER users_username_folded_insert`,
		`DROP TRIGGER users_username_folded_update`,
		`INSERT INTO users(id, username, password_hash, role, created_at) VALUES('u1', 'Alice', 'h', 'technician', 1000)`,
		`INSERT INTO users(id, username, password_hash, role, created_at) VALUES('u2', 'bob', 'h', 'approver', 2000)`,
		`INSERT INTO users(id, username, password_hash, role, created_at) VALUES('u3', 'ADMIN', 'h', 'admin', 500)`,
		`INSERT INTO users(id, username, password_hash, role, created_at, disabled) VALUES('u4', 'admin', 'h', 'auditor', 3000, 1)`,
		`INSERT INTO device_groups(id, name, created_at) VALUES('g1', 'servers', 0)`,
		`INSERT INTO entitlements(id, name, group_id, request, emergency, updated_at) VALUES('e1', 'break_glass', 'g1',
			'{"approvers":["user:Bob","role:admin"],"approvals":1,"max_duration":3600000000000}', '', 0)`,
		`INSERT INTO requests(id, kind, device_id, requester, payload, status, created_at, expires_at)
			VALUES('r1', 'access', 'g1', 'Alice', '{"entitlement_id":"e1","requester":"Alice","approvals":[{"by":"BOB","role":"approver"}]}', 'approved', 0, 0)`,
		`INSERT INTO requests(id, kind, device_id, requester, payload, status, created_at, expires_at)
			VALUES('r2', 'support', 'd1', 'Carol', '{}', 'pending', 0, 0)`,
		`DELETE FROM schema_migrations WHERE version = 13`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()

	_, err = Open(ctx, path)
	var clash *UsernameCollisionError
	if !errors.Is(err, ErrUsernameCase) || !errors.As(err, &clash) {
		t.Fatalf("Open with ADMIN and admin: %v, want a UsernameCollisionError", err)
	}
	var got [][]string
	for _, g := range clash.Groups {
		var ids []string
		for _, u := range g {
			ids = append(ids, u.ID+"="+u.Username)
		}
		got = append(got, ids)
	}
	if diff := cmp.Diff([][]string{{"u3=ADMIN", "u4=admin"}}, got); diff != "" {
		t.Fatalf("colliding accounts (-want +got):\n%s", diff)
	}
	for _, want := range []string{`"ADMIN" (id u3, admin`, `"admin" (id u4, auditor`, "disabled", "porthole-broker admin rename", "Nothing was changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}

	// The way out: rename one account with the broker stopped.
	s, blocked, err := OpenForRepair(ctx, path)
	if err != nil || !errors.Is(blocked, ErrUsernameCase) {
		t.Fatalf("OpenForRepair = %v, blocked %v", err, blocked)
	}
	if u, err := s.UserByID(ctx, "u1"); err != nil || u.Username != "Alice" {
		t.Fatalf("the refused migration changed u1: %+v, %v", u, err)
	}
	if err := s.RenameUser(ctx, "u3", "Admin"); !errors.Is(err, ErrConflict) {
		t.Fatalf("renaming to a name taken in another case: %v, want ErrConflict", err)
	}
	if err := s.RenameUser(ctx, "nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("renaming no account: %v, want ErrNotFound", err)
	}
	if err := s.RenameUser(ctx, "u4", "Admin-Audit"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after the rename: %v", err)
	}
	defer s.Close()
	for name, id := range map[string]string{"alice": "u1", "ALICE": "u1", "Bob": "u2", "admin": "u3", "ADMIN-audit": "u4"} {
		if u, err := s.UserByName(ctx, name); err != nil || u.ID != id {
			t.Errorf("UserByName(%q) = %+v, %v; want %s", name, u, err, id)
		}
	}
	if u, _ := s.UserByID(ctx, "u1"); u.Username != "alice" {
		t.Errorf("u1 stored as %q, want alice", u.Username)
	}
	e, err := s.EntitlementByID(ctx, "e1")
	if err != nil || !strings.Contains(e.Request, `"approvers":["user:bob","role:admin"]`) {
		t.Errorf("entitlement approvers not folded: %+v, %v", e, err)
	}
	r1, err := s.Request(ctx, "r1")
	if err != nil || r1.Requester != "alice" || !strings.Contains(r1.Payload, `"requester":"alice"`) || !strings.Contains(r1.Payload, `"by":"bob"`) {
		t.Errorf("access request not folded: %+v, %v", r1, err)
	}
	if r2, err := s.Request(ctx, "r2"); err != nil || r2.Requester != "Carol" {
		t.Errorf("a support request's requester (an endpoint's user) changed: %+v, %v", r2, err)
	}
	// From now on the database itself refuses unfolded names.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO users(id, username, password_hash, role, created_at) VALUES('u5', 'Zed', 'h', 'admin', 0)`); err == nil {
		t.Error("an unfolded username was inserted")
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET username = 'BOB' WHERE id = 'u2'`); err == nil {
		t.Error("a username was changed to an unfolded one")
	}
	if err := s.CreateUser(ctx, User{ID: "u5", Username: "Zed", PasswordHash: "h", Role: "admin", CreatedAt: at}); err != nil {
		t.Fatalf("CreateUser folds: %v", err)
	}
	if err := s.CreateUser(ctx, User{ID: "u6", Username: "ZED", PasswordHash: "h", Role: "admin", CreatedAt: at}); !errors.Is(err, ErrConflict) {
		t.Fatalf("a second zed: %v, want ErrConflict", err)
	}
}

// TestLoginLimitsMigration: migration 0014 keys real accounts' lockouts by
// user id and moves the counts of names of no account to their own scope.
func TestLoginLimitsMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, User{ID: "u1", Username: "ann", PasswordHash: "h", Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, k := range []string{"login:ann", "login:ghost", "mfa:u1"} {
		if err := s.SaveLoginLimit(ctx, "account", LoginLimit{Key: k, Failures: 7, LastFail: now, LockedUntil: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{`DROP TABLE login_addresses`, `DELETE FROM schema_migrations WHERE version = 14`} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := func(scope string) []string {
		t.Helper()
		ls, err := s.LoginLimits(ctx, scope, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, l := range ls {
			if l.Failures != 7 || !l.LockedUntil.Equal(now.Add(time.Minute)) {
				t.Errorf("%s %s: %+v", scope, l.Key, l)
			}
			ks = append(ks, l.Key)
		}
		return ks
	}
	if diff := cmp.Diff([]string{"login:u1", "mfa:u1"}, keys("account")); diff != "" {
		t.Errorf("account scope (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"login:ghost"}, keys("unknown")); diff != "" {
		t.Errorf("unknown scope (-want +got):\n%s", diff)
	}
}

// TestLoginAddresses: an account's known addresses are the most recent
// few; an old one stops counting as known.
func TestLoginAddresses(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{"u1", "u2"} {
		if err := s.CreateUser(ctx, User{ID: id, Username: id, PasswordHash: "h", Role: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, a := range []string{"ip:a", "ip:b", "ip:c", "ip:d"} {
		if err := s.RememberLoginAddress(ctx, "u1", a, t0.Add(time.Duration(i)*time.Hour), 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RememberLoginAddress(ctx, "u1", "ip:b", t0.Add(10*time.Hour), 3); err != nil { // b again: newest
		t.Fatal(err)
	}
	if err := s.RememberLoginAddress(ctx, "u2", "ip:z", t0, 3); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, addr string
		since      time.Time
		want       bool
	}{
		{"u1", "ip:b", t0, true},
		{"u1", "ip:a", t0, false}, // dropped: the oldest of four
		{"u1", "ip:c", t0, true},
		{"u1", "ip:d", t0, true},
		{"u1", "ip:c", t0.Add(3 * time.Hour), false},
		{"u1", "ip:z", t0, false}, // another user's
		{"u2", "ip:z", t0, true},
	} {
		if known, err := s.KnownLoginAddress(ctx, tc.user, tc.addr, tc.since); err != nil || known != tc.want {
			t.Errorf("KnownLoginAddress(%s, %s, %v) = %v, %v", tc.user, tc.addr, tc.since, known, err)
		}
	}
}
