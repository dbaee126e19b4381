package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// EnrollToken lets agents enroll; only its hash is stored.
type EnrollToken struct {
	ID        string
	Hash      string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	MaxUses   int
	Uses      int
	Revoked   bool
	Note      string
}

// Token use failures, matched with errors.Is.
var (
	ErrTokenExpired = errors.New("enrollment token expired")
	ErrTokenUsedUp  = errors.New("enrollment token has no uses left")
	ErrTokenRevoked = errors.New("enrollment token revoked")
)

// CreateEnrollToken stores a new token.
func (s *Store) CreateEnrollToken(ctx context.Context, t EnrollToken) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO enroll_tokens(id, hash, created_by, created_at, expires_at, max_uses, uses, revoked, note) VALUES(?,?,?,?,?,?,0,0,?)`,
		t.ID, t.Hash, t.CreatedBy, ms(t.CreatedAt), ms(t.ExpiresAt), t.MaxUses, t.Note)
	return err
}

const enrollCols = `id, hash, created_by, created_at, expires_at, max_uses, uses, revoked, note`

func scanEnroll(row interface{ Scan(...any) error }) (EnrollToken, error) {
	var t EnrollToken
	var c, e int64
	err := row.Scan(&t.ID, &t.Hash, &t.CreatedBy, &c, &e, &t.MaxUses, &t.Uses, &t.Revoked, &t.Note)
	t.CreatedAt, t.ExpiresAt = fromMS(c), fromMS(e)
	return t, err
}

// EnrollTokens lists tokens, newest first.
func (s *Store) EnrollTokens(ctx context.Context) ([]EnrollToken, error) {
	return queryAll(ctx, s.db, scanEnroll, `SELECT `+enrollCols+` FROM enroll_tokens ORDER BY created_at DESC`)
}

// RevokeEnrollToken makes a token unusable.
func (s *Store) RevokeEnrollToken(ctx context.Context, id string) error {
	return s.execOne(ctx, "enrollment token", `UPDATE enroll_tokens SET revoked = 1 WHERE id = ?`, id)
}

// Enroll atomically spends one use of the token with the given hash and
// inserts the device. Either both happen or neither does.
func (s *Store) Enroll(ctx context.Context, tokenHash string, now time.Time, d Device) (EnrollToken, error) {
	var tok EnrollToken
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		tok, err = scanEnroll(tx.QueryRowContext(ctx, `SELECT `+enrollCols+` FROM enroll_tokens WHERE hash = ?`, tokenHash))
		if err != nil {
			return notFound(err, "enrollment token")
		}
		switch {
		case tok.Revoked:
			return ErrTokenRevoked
		case !now.Before(tok.ExpiresAt):
			return ErrTokenExpired
		case tok.Uses >= tok.MaxUses:
			return ErrTokenUsedUp
		}
		if _, err := tx.ExecContext(ctx, `UPDATE enroll_tokens SET uses = uses + 1 WHERE id = ?`, tok.ID); err != nil {
			return err
		}
		return insertDevice(ctx, tx, d)
	})
	return tok, err
}
