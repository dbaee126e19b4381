package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// AuditHead is the chain's signed head (audit_head).
type AuditHead struct {
	Seq  int64
	Hash string
	Sig  []byte
}

// AuditHead returns the signed head; ok is false when none was written
// (an empty log, or one from before audit signing).
func (s *Store) AuditHead(ctx context.Context) (h AuditHead, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT seq, hash, sig FROM audit_head WHERE id = 1`).Scan(&h.Seq, &h.Hash, &h.Sig)
	// A database no broker with audit signing has migrated yet (read by
	// OpenReadOnly) has no table: no head either.
	if errors.Is(err, sql.ErrNoRows) || (err != nil && strings.Contains(err.Error(), "no such table")) {
		return AuditHead{}, false, nil
	}
	return h, err == nil, err
}

// SetAuditHead writes the signed head outside an append (when an existing
// chain is adopted by a newly configured signing key), durably.
func (s *Store) SetAuditHead(ctx context.Context, h AuditHead) error {
	return s.durableTx(ctx, func(tx *sql.Tx) error { return setAuditHead(ctx, tx, h.Seq, h.Hash, h.Sig) })
}

func setAuditHead(ctx context.Context, tx *sql.Tx, seq int64, hash string, sig []byte) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_head(id, seq, hash, sig) VALUES(1, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, sig = excluded.sig`, seq, hash, sig)
	return err
}

// auditTxHook, when set (tests only), runs inside each audit append's
// transaction, after the insert.
var auditTxHook func(*sql.Tx)

// durableTx runs f in a transaction that commits with synchronous=FULL:
// the commit returns only once the write-ahead log is on disk, so an audit
// record the caller acted on survives a power loss. Other writes keep
// synchronous=NORMAL (durable at the next checkpoint). The store has one
// connection, which this holds for the transaction, like tx does.
func (s *Store) durableTx(ctx context.Context, f func(*sql.Tx) error) (err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return fmt.Errorf("synchronous full: %w", err)
	}
	defer func() {
		// A fresh context: the connection must go back to NORMAL even if
		// ctx ended meanwhile.
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`); rerr != nil && err == nil {
			err = fmt.Errorf("synchronous normal: %w", rerr)
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	return commit(tx, f)
}
