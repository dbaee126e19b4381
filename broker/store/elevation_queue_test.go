package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestElevationRequestsMoveToTheQueue: migration 0010 moves the elevation
// requests of the older table into the requests queue (kind elevation,
// open ones pending) and drops the table.
func TestElevationRequestsMoveToTheQueue(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// The database as migration 0008 left it, with two requests.
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for _, q := range []string{
		`CREATE TABLE elevation_requests (id TEXT PRIMARY KEY, device_id TEXT NOT NULL, event_id TEXT NOT NULL, agent_ref TEXT NOT NULL,
			username TEXT NOT NULL, note TEXT NOT NULL, requested_at INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'open',
			decided_by TEXT NOT NULL DEFAULT '', decided_at INTEGER NOT NULL DEFAULT 0, minutes INTEGER NOT NULL DEFAULT 0)`,
		`INSERT INTO elevation_requests(id, device_id, event_id, agent_ref, username, note, requested_at) VALUES('r1','d1','e1','a1','bob','printer',?)`,
		`INSERT INTO elevation_requests(id, device_id, event_id, agent_ref, username, note, requested_at, state, decided_by, decided_at, minutes)
			VALUES('r2','d1','e2','a2','eve','games',?,'denied','user:ann',?,0)`,
		`DELETE FROM schema_migrations WHERE version = 10`,
	} {
		if _, err := s.db.ExecContext(ctx, q, ms(at), ms(at)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r1, err := s.Request(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if r1.Kind != "elevation" || r1.Status != RequestPending || r1.Requester != "bob" || r1.Reason != "printer" ||
		!r1.CreatedAt.Equal(at) || !r1.ExpiresAt.Equal(at.Add(30*time.Minute)) ||
		r1.Payload != `{"agent_ref":"a1","event_id":"e1","user":"bob","minutes":0}` {
		t.Errorf("r1 = %+v", r1)
	}
	if r2, err := s.Request(ctx, "r2"); err != nil || r2.Status != RequestDenied || r2.DecidedBy != "ann" {
		t.Errorf("r2 = %+v, %v", r2, err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'elevation_requests'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("elevation_requests still there (%d, %v)", n, err)
	}
}
