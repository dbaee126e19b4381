package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porthole/broker/audit"
	"porthole/broker/audit/audittest"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

type signedLog struct {
	log            *audit.Log
	st             *store.Store
	db, anchorPath string
}

func newSigned(t testing.TB, seed byte, n int) signedLog {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "p.db")
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	signer, err := audit.NewSigner(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	anchorPath := filepath.Join(dir, "audit-head")
	l := audit.New(st, clocktest.New(time.Unix(1700000000, 0)), audit.NewAnchor(anchorPath)).WithSigner(signer)
	t.Cleanup(l.Close)
	for i := range n {
		if _, err := l.Append(ctx, audit.Event{Actor: "user:admin", Action: "test", Target: "t", Details: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	return signedLog{log: l, st: st, db: db, anchorPath: anchorPath}
}

// TestSignedHeadRefusesRewrites: with the chain's head signed by a key
// outside the database, what someone holding the database and the data
// dir (but not the key) can do to the log no longer verifies: a chain
// rewritten with recomputed hashes and head, records cut from the end or
// added to it, the signed head removed, or a head signed by another key.
func TestSignedHeadRefusesRewrites(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		tamper  func(t *testing.T, s signedLog)
		wantSeq int64 // the record Verify must name; 0: ErrUnsigned
		reason  string
	}{
		{"rewrite with recomputed hashes, head and anchor", func(t *testing.T, s signedLog) {
			audittest.RewriteChain(t, s.db, s.anchorPath, 2, "user:mallory")
		}, 4, "rewritten"},
		{"rewrite the newest record only", func(t *testing.T, s signedLog) {
			audittest.RewriteChain(t, s.db, s.anchorPath, 4, "user:mallory")
		}, 4, "rewritten"},
		{"cut the newest records, head and anchor moved back", func(t *testing.T, s signedLog) {
			audittest.Exec(t, s.db, `DELETE FROM audit WHERE seq > 2`)
			audittest.Exec(t, s.db, `UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit WHERE seq = 2)`)
			recs, _ := s.st.AuditRecords(ctx, store.AuditFilter{AfterSeq: 1})
			if err := os.WriteFile(s.anchorPath, fmt.Appendf(nil, "2 %s\n", recs[0].Hash), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 2, "not signed by this broker's audit key"},
		{"cut the newest records, anchor moved back, head left", func(t *testing.T, s signedLog) {
			audittest.Exec(t, s.db, `DELETE FROM audit WHERE seq > 2`)
			recs, _ := s.st.AuditRecords(ctx, store.AuditFilter{AfterSeq: 1})
			if err := os.WriteFile(s.anchorPath, fmt.Appendf(nil, "2 %s\n", recs[0].Hash), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 3, "the signed head is record 4"},
		{"cut the newest records only", func(t *testing.T, s signedLog) {
			audittest.Exec(t, s.db, `DELETE FROM audit WHERE seq > 2`)
		}, 3, "missing"},
		{"signed head removed", func(t *testing.T, s signedLog) {
			audittest.Exec(t, s.db, `DELETE FROM audit_head`)
		}, 0, ""},
		{"a record added after the signed head", func(t *testing.T, s signedLog) {
			recs, _ := s.st.AuditRecords(ctx, store.AuditFilter{AfterSeq: 3})
			r := recs[0]
			r.Seq, r.PrevHash, r.Actor = 5, r.Hash, "user:mallory"
			r.Hash = audit.Hash(r)
			audittest.Exec(t, s.db, `INSERT INTO audit(seq, time, actor, action, target, source_ip, details, prev_hash, hash) VALUES(?,?,?,?,?,?,?,?,?)`,
				r.Seq, r.Time.UnixMilli(), r.Actor, r.Action, r.Target, r.SourceIP, r.Details, r.PrevHash, r.Hash)
		}, 5, "not signed"},
		{"head re-signed with another key", func(t *testing.T, s signedLog) {
			other := newSigned(t, 8, 0)
			audittest.RewriteChain(t, s.db, s.anchorPath, 3, "user:mallory")
			recs, _ := s.st.AuditRecords(ctx, store.AuditFilter{AfterSeq: 3})
			// The other log's signer signs this chain's head.
			if _, err := other.log.Append(ctx, audit.Event{Actor: "x", Action: "y"}); err != nil {
				t.Fatal(err)
			}
			h, _, _ := other.st.AuditHead(ctx)
			audittest.Exec(t, s.db, `UPDATE audit_head SET seq = ?, hash = ?, sig = ?`, recs[0].Seq, recs[0].Hash, h.Sig)
		}, 4, "not signed by this broker's audit key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSigned(t, 7, 4)
			if n, err := s.log.Verify(ctx); err != nil || n != 4 {
				t.Fatalf("intact signed log: %d %v", n, err)
			}
			tc.tamper(t, s)
			_, err := s.log.Verify(ctx)
			if tc.wantSeq == 0 {
				if !errors.Is(err, audit.ErrUnsigned) {
					t.Fatalf("Verify = %v, want ErrUnsigned", err)
				}
				return
			}
			var be *audit.BrokenError
			if !errors.As(err, &be) || be.Seq != tc.wantSeq || !strings.Contains(be.Reason, tc.reason) {
				t.Fatalf("Verify = %v, want broken at record %d (%s)", err, tc.wantSeq, tc.reason)
			}
		})
	}
}

// TestAdoptSignsAnUnsignedChain: a chain written without a signing key
// (before audit signing) verifies as ErrUnsigned with one, and Adopt
// signs its head and records the adoption; afterwards it verifies.
func TestAdoptSignsAnUnsignedChain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	anchor := filepath.Join(dir, "audit-head")
	old := audit.New(st, nil, audit.NewAnchor(anchor))
	for range 3 {
		if _, err := old.Append(ctx, audit.Event{Actor: "system", Action: "old"}); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	signer, _ := audit.NewSigner(bytes.Repeat([]byte{5}, 32))
	l := audit.New(st, nil, audit.NewAnchor(anchor)).WithSigner(signer)
	defer l.Close()
	if _, err := l.Verify(ctx); !errors.Is(err, audit.ErrUnsigned) {
		t.Fatalf("unsigned chain: %v", err)
	}
	if n, err := l.Adopt(ctx, "test"); err != nil || n != 3 {
		t.Fatalf("adopt: %d %v", n, err)
	}
	if n, err := l.Verify(ctx); err != nil || n != 4 {
		t.Fatalf("after adoption: %d %v", n, err)
	}
	recs, _ := st.AuditRecords(ctx, store.AuditFilter{Action: "audit.chain_adopted"})
	if len(recs) != 1 || !strings.Contains(recs[0].Details, audit.Fingerprint(signer.Public())) {
		t.Fatalf("adoption record: %+v", recs)
	}
}
