// Package mfasql implements mfa.Store on the broker's SQLite database with
// the tables of broker/store/migrations/0003_mfa.sql. It takes a *sql.DB so the store
// package can hand over its handle (or copy these methods) without mfa
// depending on the store.
package mfasql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"porthole/broker/dbtime"
	"porthole/broker/mfa"
)

var _ mfa.Store = (*Store)(nil)

// Store is an mfa.Store over a database migrated with 0003_mfa.sql. It is
// safe for concurrent use; every conditional write is one statement, so
// concurrent uses of a code are settled by the database.
type Store struct {
	db *sql.DB
}

// New returns a Store over db.
func New(db *sql.DB) *Store { return &Store{db: db} }

// InsertMFA implements mfa.Store.
func (s *Store) InsertMFA(ctx context.Context, e mfa.Enrollment, codes []mfa.RecoveryCode) (inserted bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || !inserted {
			_ = tx.Rollback()
		}
	}()
	res, err := tx.ExecContext(ctx, `INSERT INTO mfa_totp(user_id, secret_sealed, last_step, enrolled_at) VALUES(?,?,?,?)
		ON CONFLICT(user_id) DO NOTHING`, e.UserID, e.SealedSecret, e.LastStep, dbtime.MS(e.EnrolledAt))
	if err != nil {
		return false, fmt.Errorf("insert mfa_totp: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if err := insertCodes(ctx, tx, e.UserID, codes); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return true, nil
}

func insertCodes(ctx context.Context, tx *sql.Tx, userID string, codes []mfa.RecoveryCode) error {
	for _, c := range codes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_recovery_codes(id, user_id, hash, created_at, used_at) VALUES(?,?,?,?,?)`,
			c.ID, userID, c.Hash, dbtime.MS(c.CreatedAt), dbtime.MS(c.UsedAt)); err != nil {
			return fmt.Errorf("insert mfa_recovery_codes: %w", err)
		}
	}
	return nil
}

// TOTP implements mfa.Store.
func (s *Store) TOTP(ctx context.Context, userID string) (mfa.Enrollment, bool, error) {
	e := mfa.Enrollment{UserID: userID}
	var enrolled int64
	err := s.db.QueryRowContext(ctx, `SELECT secret_sealed, last_step, enrolled_at FROM mfa_totp WHERE user_id = ?`, userID).
		Scan(&e.SealedSecret, &e.LastStep, &enrolled)
	if errors.Is(err, sql.ErrNoRows) {
		return mfa.Enrollment{}, false, nil
	}
	if err != nil {
		return mfa.Enrollment{}, false, fmt.Errorf("select mfa_totp: %w", err)
	}
	e.EnrolledAt = dbtime.FromMS(enrolled)
	return e, true, nil
}

// AdvanceTOTPStep implements mfa.Store.
func (s *Store) AdvanceTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE mfa_totp SET last_step = ? WHERE user_id = ? AND last_step < ?`, step, userID, step)
	if err != nil {
		return false, fmt.Errorf("update mfa_totp: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecoveryCodes implements mfa.Store.
func (s *Store) RecoveryCodes(ctx context.Context, userID string) ([]mfa.RecoveryCode, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, hash, created_at FROM mfa_recovery_codes
		WHERE user_id = ? AND used_at = 0 ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("select mfa_recovery_codes: %w", err)
	}
	defer rows.Close()
	var out []mfa.RecoveryCode
	for rows.Next() {
		c := mfa.RecoveryCode{UserID: userID}
		var created int64
		if err := rows.Scan(&c.ID, &c.Hash, &created); err != nil {
			return nil, err
		}
		c.CreatedAt = dbtime.FromMS(created)
		out = append(out, c)
	}
	return out, rows.Err()
}

// UseRecoveryCode implements mfa.Store.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, codeID string, at time.Time) (bool, error) {
	used := dbtime.MS(at)
	if used == 0 {
		used = 1 // 0 means unused
	}
	res, err := s.db.ExecContext(ctx, `UPDATE mfa_recovery_codes SET used_at = ? WHERE id = ? AND user_id = ? AND used_at = 0`,
		used, codeID, userID)
	if err != nil {
		return false, fmt.Errorf("update mfa_recovery_codes: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReplaceRecoveryCodes implements mfa.Store.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, codes []mfa.RecoveryCode) (replaced bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || !replaced {
			_ = tx.Rollback()
		}
	}()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM mfa_totp WHERE user_id = ?`, userID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("select mfa_totp: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = ?`, userID); err != nil {
		return false, fmt.Errorf("delete mfa_recovery_codes: %w", err)
	}
	if err := insertCodes(ctx, tx, userID, codes); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return true, nil
}

// DeleteMFA implements mfa.Store. Recovery codes go with the enrollment
// (ON DELETE CASCADE, and explicitly in case foreign keys are off).
func (s *Store) DeleteMFA(ctx context.Context, userID string) (deleted bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = ?`, userID); err != nil {
		return false, fmt.Errorf("delete mfa_recovery_codes: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM mfa_totp WHERE user_id = ?`, userID)
	if err != nil {
		return false, fmt.Errorf("delete mfa_totp: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, tx.Commit()
}
