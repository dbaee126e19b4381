package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestMigrationGap: a database made before a lower-numbered migration was
// merged (its number missing from schema_migrations) gets it at the next
// Open, and nothing is applied twice.
func TestMigrationGap(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	newest, err := s.SchemaVersion(ctx)
	if err != nil || newest < 6 {
		t.Fatalf("schema version %d, %v", newest, err)
	}
	for _, q := range []string{`DROP TABLE agent_events`, `DELETE FROM schema_migrations WHERE version = 6`} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM agent_events`).Scan(&n); err != nil {
		t.Fatalf("the missing migration was not applied: %v", err)
	}
	if v, _ := s.SchemaVersion(ctx); v != newest {
		t.Fatalf("version %d after reopen, want %d", v, newest)
	}
}
