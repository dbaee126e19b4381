package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestOutcomesMigration: migration 0011 counts requests decided before it
// as acknowledged, so an upgrade resends none of them, while requests
// decided afterwards are listed until acknowledged, once.
func TestOutcomesMigration(t *testing.T) {
	ctx, path := context.Background(), filepath.Join(t.TempDir(), "p.db")
	s := mustOpen(t, path)
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"old", "new"} {
		if err := s.CreateRequest(ctx, Request{ID: id, Kind: "support", DeviceID: "d1", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DecideRequest(ctx, "old", RequestDenied, "ann", "", "", at); err != nil {
		t.Fatal(err)
	}
	// The database as migration 0010 left it, with "old" denied.
	for _, q := range []string{`DROP INDEX requests_outcomes`, `ALTER TABLE requests DROP COLUMN outcome_acked_at`,
		`DELETE FROM schema_migrations WHERE version = 11`} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	s = mustOpen(t, path)
	defer s.Close()
	if err := s.DecideRequest(ctx, "new", RequestExpired, "", "", "", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	list := func() (ids []string) {
		rs, err := s.UnackedOutcomes(ctx, "d1", at)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if got := list(); len(got) != 1 || got[0] != "new" {
		t.Fatalf("unacknowledged = %v, want [new]", got)
	}
	for i, want := range []bool{true, false} {
		if first, err := s.AckOutcome(ctx, "new", at.Add(2*time.Hour)); err != nil || first != want {
			t.Fatalf("ack %d = %v, %v; want %v", i, first, err, want)
		}
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("unacknowledged after the ack = %v", got)
	}
}

// mustOpen opens the store at path or fails the test.
func mustOpen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
