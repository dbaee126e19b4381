package mfasql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	_ "modernc.org/sqlite"

	"porthole/broker/mfa"
	"porthole/broker/mfa/mfatest"
	"porthole/broker/secretbox"
)

var t0 = time.Unix(1700000025, 0).UTC()

func newBox(t *testing.T) *secretbox.Box {
	t.Helper()
	b, err := secretbox.Load(t.TempDir(), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// openDB builds a database the way the broker will: the store's first
// migration, then its MFA migration (0003_mfa.sql), with foreign keys on.
func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "p.db")+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, f := range []string{"../../store/migrations/0001_init.sql", "../../store/migrations/0003_mfa.sql"} {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	for _, id := range []string{"u1", "u2"} {
		if _, err := db.Exec(`INSERT INTO users(id, username, password_hash, role, created_at) VALUES(?,?,?,?,?)`, id, id, "x", "admin", 1); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func TestStore(t *testing.T) {
	mfatest.StoreSuite(t, func(t *testing.T) mfa.Store { return New(openDB(t)) })
}

// Deleting a user removes their MFA rows (ON DELETE CASCADE).
func TestUserDeleteCascades(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	s := New(db)
	if ok, err := s.InsertMFA(ctx, mfa.Enrollment{UserID: "u1", SealedSecret: []byte{1}}, []mfa.RecoveryCode{{ID: "c1", Hash: "h"}}); !ok || err != nil {
		t.Fatalf("InsertMFA = %v, %v", ok, err)
	}
	if _, err := db.Exec(`DELETE FROM users WHERE id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT (SELECT COUNT(*) FROM mfa_totp) + (SELECT COUNT(*) FROM mfa_recovery_codes)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d MFA rows left after the user was deleted (%v)", n, err)
	}
}

// The whole Manager works on the SQL store: enrollment, replay refusal and
// recovery codes survive a reopen of the database handle.
func TestManagerOnSQLite(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	box := newBox(t)
	m, err := mfa.New(mfa.Config{Store: New(db), Box: box})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Enroll("u1", "u1", "")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := m.Confirm(ctx, "u1", p, totpCode(t, p.Secret, t0), t0)
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := mfa.New(mfa.Config{Store: New(db), Box: box})
	now := t0.Add(time.Minute)
	c := totpCode(t, p.Secret, now)
	if err := m2.Verify(ctx, "u1", c, now); err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(ctx, "u1", c, now); !errors.Is(err, mfa.ErrReplayed) {
		t.Fatalf("replay through another Manager = %v", err)
	}
	if err := m2.UseRecoveryCode(ctx, "u1", rc[4], now); err != nil {
		t.Fatal(err)
	}
	if err := m.UseRecoveryCode(ctx, "u1", rc[4], now); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("recovery code reuse = %v", err)
	}
	var sealed []byte
	if err := db.QueryRow(`SELECT secret_sealed FROM mfa_totp WHERE user_id = 'u1'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(p.Secret)) {
		t.Fatal("secret stored in clear")
	}
}
