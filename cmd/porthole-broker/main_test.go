package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"porthole/broker"
	"porthole/broker/store"
)

// TestRenameUnblocksCaseFolding: a broker whose data holds two accounts
// that differ only in case refuses to start, naming them and the command
// that fixes it; "admin rename" (broker stopped, audited) renames one, and
// the broker starts with usernames folded.
func TestRenameUnblocksCaseFolding(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	start := func() error {
		t.Helper()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		srv, err := broker.New(cctx, broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Out: io.Discard})
		if err != nil {
			return err
		}
		cancel()
		return srv.Run(cctx)
	}
	if err := start(); err != nil { // first run: the admin and the audit chain
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "porthole.db"))
	if err != nil {
		t.Fatal(err)
	}
	// As the database was before usernames folded: another ADMIN.
	for _, q := range []string{
		`DROP TRIGGER users_username_folded_insert`,
		`DROP TRIGGER users_username_folded_update`,
		`INSERT INTO users(id, username, password_hash, role, created_at) VALUES('u-upper', 'ADMIN', 'h', 'auditor', 0)`,
		`DELETE FROM schema_migrations WHERE version = 13`,
	} {
		if _, err := st.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	st.Close()
	err = start()
	if !errors.Is(err, store.ErrUsernameCase) || !strings.Contains(err.Error(), `"ADMIN" (id u-upper`) ||
		!strings.Contains(err.Error(), "porthole-broker admin rename --data-dir DIR --id ID --to NEW_NAME") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("start with ADMIN and admin: %v", err)
	}
	if err := admin(ctx, []string{"rename", "--data-dir", dir, "--id", "u-upper", "--to", "Auditor-Old"}); err != nil {
		t.Fatal(err)
	}
	if err := admin(ctx, []string{"rename", "--data-dir", dir, "--id", "u-upper", "--to", "bad name"}); err == nil {
		t.Fatal("an invalid username was accepted")
	}
	if err := start(); err != nil {
		t.Fatalf("start after the rename: %v", err)
	}
	st, err = store.Open(ctx, filepath.Join(dir, "porthole.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if u, err := st.UserByName(ctx, "AUDITOR-OLD"); err != nil || u.ID != "u-upper" || u.Username != "auditor-old" {
		t.Fatalf("renamed account: %+v, %v", u, err)
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{Action: "user.renamed"})
	if err != nil || len(recs) != 1 || recs[0].Target != "u-upper" || !bytes.Contains([]byte(recs[0].Details), []byte(`"to":"auditor-old"`)) {
		t.Fatalf("user.renamed audit: %+v, %v", recs, err)
	}
}
