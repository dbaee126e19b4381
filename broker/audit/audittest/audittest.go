// Package audittest tampers with an audit log the way someone holding the
// data dir but not the signing key would, for tests that the broker and
// the verifiers refuse it.
package audittest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" driver

	"porthole/broker/audit"
	"porthole/broker/dbtime"
	"porthole/broker/store"
)

// RewriteChain changes the actor of record seq in the database at dbPath
// and recomputes the hash chain from there on, as anyone who knows the
// (public) hash function can; it moves the signed head's hash and the
// anchor file at anchorPath to the new last hash, keeping their old
// signatures, which it cannot recompute. It returns the new last hash.
func RewriteChain(t *testing.T, dbPath, anchorPath string, seq int64, actor string) string {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT seq, time, actor, action, target, source_ip, details, prev_hash, hash FROM audit WHERE seq >= ? ORDER BY seq`, seq-1)
	if err != nil {
		t.Fatal(err)
	}
	var recs []store.AuditRecord
	for rows.Next() {
		var r store.AuditRecord
		var ms int64
		if err := rows.Scan(&r.Seq, &ms, &r.Actor, &r.Action, &r.Target, &r.SourceIP, &r.Details, &r.PrevHash, &r.Hash); err != nil {
			t.Fatal(err)
		}
		r.Time = dbtime.FromMS(ms)
		recs = append(recs, r)
	}
	rows.Close()
	prev := ""
	for i, r := range recs {
		if r.Seq < seq {
			prev = r.Hash
			continue
		}
		if r.Seq == seq {
			r.Actor = actor
		}
		r.PrevHash = prev
		r.Hash = audit.Hash(r)
		prev = r.Hash
		recs[i] = r
		if _, err := db.ExecContext(ctx, `UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?`, r.Actor, r.PrevHash, r.Hash, r.Seq); err != nil {
			t.Fatal(err)
		}
	}
	last := recs[len(recs)-1]
	if _, err := db.ExecContext(ctx, `UPDATE audit_head SET hash = ? WHERE id = 1`, last.Hash); err != nil {
		t.Fatal(err)
	}
	if anchorPath != "" {
		if err := os.WriteFile(anchorPath, fmt.Appendf(nil, "%d %s\n", last.Seq, last.Hash), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return last.Hash
}

// Exec runs SQL on the database at dbPath behind the broker's back.
func Exec(t *testing.T, dbPath, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}
