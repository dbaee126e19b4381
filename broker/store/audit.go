package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// AuditRecord is one stored row of the audit chain.
type AuditRecord struct {
	Seq      int64
	Time     time.Time
	Actor    string
	Action   string
	Target   string
	SourceIP string
	Details  string // JSON object
	PrevHash string
	Hash     string
	// HeadSig, when set by the sealer, signs this record as the chain's
	// head; the append stores it in audit_head (not in the row) in the
	// same transaction.
	HeadSig []byte
}

// AppendAudit appends a record built by seal, which receives the sequence
// number and previous hash inside the same transaction so the chain cannot
// fork under concurrent writers.
func (s *Store) AppendAudit(ctx context.Context, seal func(seq int64, prevHash string) AuditRecord) (AuditRecord, error) {
	var rec AuditRecord
	err := s.durableTx(ctx, func(tx *sql.Tx) error {
		var err error
		rec, err = appendAudit(ctx, tx, seal)
		return err
	})
	return rec, err
}

// AppendAgentEvent appends the audit record of an agent's outbox event
// unless (deviceID, eventID) was recorded before, in one transaction, so a
// resent event is recorded exactly once. dup reports a repeat; its record is
// then the zero value.
func (s *Store) AppendAgentEvent(ctx context.Context, deviceID, eventID string, seal func(seq int64, prevHash string) AuditRecord) (rec AuditRecord, dup bool, err error) {
	err = s.durableTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM agent_events WHERE device_id = ? AND event_id = ?`, deviceID, eventID).Scan(&one)
		if err == nil {
			dup = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if rec, err = appendAudit(ctx, tx, seal); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO agent_events(device_id, event_id, audit_seq) VALUES(?,?,?)`, deviceID, eventID, rec.Seq)
		return err
	})
	if err != nil || dup {
		return AuditRecord{}, dup, err
	}
	return rec, false, nil
}

func appendAudit(ctx context.Context, tx *sql.Tx, seal func(seq int64, prevHash string) AuditRecord) (AuditRecord, error) {
	var seq int64
	var prev string
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return AuditRecord{}, err
	}
	rec := seal(seq+1, prev)
	_, err = tx.ExecContext(ctx, `INSERT INTO audit(seq, time, actor, action, target, source_ip, details, prev_hash, hash) VALUES(?,?,?,?,?,?,?,?,?)`,
		rec.Seq, ms(rec.Time), rec.Actor, rec.Action, rec.Target, rec.SourceIP, rec.Details, rec.PrevHash, rec.Hash)
	if err == nil && len(rec.HeadSig) > 0 {
		err = setAuditHead(ctx, tx, rec.Seq, rec.Hash, rec.HeadSig)
	}
	if err == nil && auditTxHook != nil {
		auditTxHook(tx)
	}
	return rec, err
}

// AuditFilter selects audit records; zero fields match everything.
type AuditFilter struct {
	Actor, Action, Target string
	AfterSeq              int64 // records with seq > AfterSeq
	Limit                 int   // default 100, max 1000
	Descending            bool
}

// AuditRecords returns records matching f.
func (s *Store) AuditRecords(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	q := `SELECT seq, time, actor, action, target, source_ip, details, prev_hash, hash FROM audit WHERE seq > ?`
	args := []any{f.AfterSeq}
	for _, c := range []struct{ col, v string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}} {
		if c.v != "" {
			q += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	if f.Descending {
		q += " ORDER BY seq DESC"
	} else {
		q += " ORDER BY seq"
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q += " LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var r AuditRecord
		var t int64
		if err := rows.Scan(&r.Seq, &t, &r.Actor, &r.Action, &r.Target, &r.SourceIP, &r.Details, &r.PrevHash, &r.Hash); err != nil {
			return nil, err
		}
		r.Time = fromMS(t)
		out = append(out, r)
	}
	return out, rows.Err()
}
