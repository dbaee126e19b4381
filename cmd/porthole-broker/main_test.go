package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"porthole/broker"
	"porthole/broker/audit"
	"porthole/broker/audit/audittest"
	"porthole/broker/store"
)

// runBroker starts and stops a broker on dir once (its first run writes a
// few audit records), then appends n more records as "admin create"
// would, with the broker stopped.
func runBroker(t *testing.T, dir string, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := broker.New(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Out: io.Discard})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "porthole.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log, err := broker.OpenAuditOffline(context.Background(), st, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for range n {
		if _, err := log.Append(context.Background(), audit.Event{Actor: "system", Action: "test"}); err != nil {
			t.Fatal(err)
		}
	}
}

// verifyOffline runs "porthole-broker audit verify --data-dir dir ARGS".
func verifyOffline(dir string, args ...string) (string, error) {
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	err := auditCmd(context.Background(), append([]string{"verify", "--data-dir", dir}, args...))
	os.Stdout = stdout
	w.Close()
	var out bytes.Buffer
	_, _ = io.Copy(&out, r)
	return out.String(), err
}

// TestAuditKeyedAgainstDataDirWriters: with the signing key outside the
// data dir (PORTHOLE_AUDIT_KEY), someone who can write the data dir
// rewrites the chain and recomputes its hashes, its head and its anchor:
// the offline verifier (broker stopped) and the broker's start both
// refuse it, naming the record. The genuine log verifies offline, also
// against a pinned public key, and read-only.
func TestAuditKeyedAgainstDataDirWriters(t *testing.T) {
	seed := bytes.Repeat([]byte{3}, 32)
	t.Setenv(audit.EnvSigningKey, base64.StdEncoding.EncodeToString(seed))
	dir := t.TempDir()
	runBroker(t, dir, 3)
	db := filepath.Join(dir, "porthole.db")
	if _, err := os.Stat(filepath.Join(dir, audit.SigningKeyFile)); err == nil {
		t.Fatal("a key file was written although the key comes from the environment")
	}
	before, _ := os.ReadFile(db)
	out, err := verifyOffline(dir)
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Error("the offline check changed the database")
	}
	if err != nil || !strings.Contains(out, "audit log intact") {
		t.Fatalf("genuine log offline: %v %s", err, out)
	}
	pub, _ := os.ReadFile(filepath.Join(dir, audit.PublicKeyFile))
	if out, err := verifyOffline(dir, "--public-key", strings.TrimSpace(string(pub))); err != nil {
		t.Fatalf("against the pinned public key: %v %s", err, out)
	}

	audittest.RewriteChain(t, db, broker.AuditAnchorPath(dir), 2, "user:mallory")
	if _, err := verifyOffline(dir); err == nil || !strings.Contains(err.Error(), "NOT intact") || !strings.Contains(err.Error(), "rewritten") {
		t.Fatalf("rewritten chain offline: %v", err)
	}
	_, err = broker.New(context.Background(), broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("broker started on a rewritten chain: %v", err)
	}
}

// TestAuditAdoption: a log without a signed head is adopted on its own
// only when the signing key was created on this start (the first start of
// a data dir with audit signing); with a key from the environment it
// takes --audit-adopt, and without it the broker refuses and says so.
func TestAuditAdoption(t *testing.T) {
	dir := t.TempDir()
	runBroker(t, dir, 1) // data-dir key, created now
	db := filepath.Join(dir, "porthole.db")
	// The signed head removed, the key kept: not a first start.
	audittest.Exec(t, db, `DELETE FROM audit_head`)
	_, err := broker.New(context.Background(), broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "--audit-adopt") {
		t.Fatalf("unsigned log with an existing key: %v", err)
	}
	if _, err := verifyOffline(dir); err == nil || !strings.Contains(err.Error(), "no signed head") {
		t.Fatalf("offline: %v", err)
	}
	// A log from before audit signing: no head, no key, an unsigned anchor.
	// Adopted at start.
	if err := os.Remove(filepath.Join(dir, audit.SigningKeyFile)); err != nil {
		t.Fatal(err)
	}
	anchor, _ := os.ReadFile(broker.AuditAnchorPath(dir))
	f := strings.Fields(string(anchor)) // v2 SEQ HASH SIG
	if err := os.WriteFile(broker.AuditAnchorPath(dir), []byte(f[1]+" "+f[2]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runBroker(t, dir, 0)
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := st.AuditRecords(context.Background(), store.AuditFilter{Action: "audit.chain_adopted"})
	st.Close()
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Details, "a new signing key") {
		t.Fatalf("adoption record: %+v %v", recs, err)
	}
	if out, err := verifyOffline(dir); err != nil {
		t.Fatalf("after adoption: %v %s", err, out)
	}
	// A key from the environment: the operator adopts explicitly.
	audittest.Exec(t, db, `DELETE FROM audit_head`)
	t.Setenv(audit.EnvSigningKey, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{4}, 32)))
	if _, err := broker.New(context.Background(), broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Out: io.Discard}); err == nil {
		t.Fatal("adopted without --audit-adopt")
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := broker.New(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Out: io.Discard, AuditAdopt: true})
	if err != nil {
		cancel()
		t.Fatalf("--audit-adopt: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out, err := verifyOffline(dir); err != nil {
		t.Fatalf("after --audit-adopt: %v %s", err, out)
	}
}

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
