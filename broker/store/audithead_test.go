package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestAuditAppendIsDurable: an audit append's transaction runs with
// synchronous=FULL (its commit waits for the disk), the connection is back
// to NORMAL afterwards, and a head signature given with the record is
// stored in the same transaction.
func TestAuditAppendIsDurable(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var during []int
	auditTxHook = func(tx *sql.Tx) {
		var v int
		if err := tx.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&v); err != nil {
			t.Error(err)
		}
		during = append(during, v)
	}
	defer func() { auditTxHook = nil }()
	seal := func(seq int64, prev string) AuditRecord {
		return AuditRecord{Seq: seq, Time: time.Unix(1, 0), Actor: "a", Action: "b", Details: "{}", PrevHash: prev, Hash: "h", HeadSig: []byte{1, 2}}
	}
	if _, err := s.AppendAudit(ctx, seal); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AppendAgentEvent(ctx, "d", "e", seal); err != nil {
		t.Fatal(err)
	}
	if len(during) != 2 || during[0] != 2 || during[1] != 2 {
		t.Fatalf("synchronous during audit appends: %v, want FULL (2)", during)
	}
	var after int
	if err := s.db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&after); err != nil || after != 1 {
		t.Fatalf("synchronous afterwards: %d %v, want NORMAL (1)", after, err)
	}
	h, ok, err := s.AuditHead(ctx)
	if err != nil || !ok || h.Seq != 2 || string(h.Sig) != "\x01\x02" {
		t.Fatalf("head %+v %v %v", h, ok, err)
	}
}
