package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// API token kinds.
const (
	// TokenCLI is what "porthole login" gets: all of its owner's rights.
	TokenCLI = "cli"
	// TokenAPI is created with scopes for a script or an integration.
	TokenAPI = "api"
)

// APIToken authenticates the CLI and scripts; only its hash is stored.
type APIToken struct {
	ID        string
	Hash      string
	UserID    string
	Name      string
	Kind      string   // TokenCLI or TokenAPI
	Scopes    []string // TokenAPI only: what the token may do (bounded by its owner's rights at every use)
	Note      string
	CreatedAt time.Time
	ExpiresAt time.Time
	Revoked   bool
	RevokedAt time.Time
	// LastUsedAt and LastUsedIP: the latest use (updated at most once a minute).
	LastUsedAt time.Time
	LastUsedIP string
}

// CreateAPIToken stores a new API token.
func (s *Store) CreateAPIToken(ctx context.Context, t APIToken) error {
	if t.Kind == "" {
		t.Kind = TokenCLI
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens(id, hash, user_id, name, created_at, expires_at, revoked, kind, scopes, note)
		VALUES(?,?,?,?,?,?,0,?,?,?)`,
		t.ID, t.Hash, t.UserID, t.Name, ms(t.CreatedAt), ms(t.ExpiresAt), t.Kind, strings.Join(t.Scopes, " "), t.Note)
	return err
}

const apiTokenCols = `id, hash, user_id, name, created_at, expires_at, revoked, kind, scopes, note, last_used_at, last_used_ip, revoked_at`

func scanAPIToken(row interface{ Scan(...any) error }) (APIToken, error) {
	var t APIToken
	var c, e, u, r int64
	var scopes string
	err := row.Scan(&t.ID, &t.Hash, &t.UserID, &t.Name, &c, &e, &t.Revoked, &t.Kind, &scopes, &t.Note, &u, &t.LastUsedIP, &r)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromMS(c), fromMS(e), fromMS(u), fromMS(r)
	if scopes != "" {
		t.Scopes = strings.Fields(scopes)
	}
	return t, err
}

// APITokenByHash finds a token by the hash of its value.
func (s *Store) APITokenByHash(ctx context.Context, hash string) (APIToken, error) {
	t, err := scanAPIToken(s.db.QueryRowContext(ctx, `SELECT `+apiTokenCols+` FROM api_tokens WHERE hash = ?`, hash))
	if err != nil {
		return t, fmt.Errorf("api token: %w", notFound(err, "api token"))
	}
	return t, nil
}

// APITokenByID finds a token by id.
func (s *Store) APITokenByID(ctx context.Context, id string) (APIToken, error) {
	t, err := scanAPIToken(s.db.QueryRowContext(ctx, `SELECT `+apiTokenCols+` FROM api_tokens WHERE id = ?`, id))
	if err != nil {
		return t, fmt.Errorf("api token: %w", notFound(err, "api token"))
	}
	return t, nil
}

// UserAPITokens lists a user's tokens, newest first.
func (s *Store) UserAPITokens(ctx context.Context, userID string) ([]APIToken, error) {
	return orEmpty(queryAll(ctx, s.db, scanAPIToken, `SELECT `+apiTokenCols+` FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id`, userID))
}

// ActiveUserAPITokens returns the ids of a user's tokens that still work at now.
func (s *Store) ActiveUserAPITokens(ctx context.Context, userID string, now time.Time) ([]string, error) {
	return orEmpty(queryAll(ctx, s.db, scanString, `SELECT id FROM api_tokens WHERE user_id = ? AND revoked = 0 AND expires_at > ? ORDER BY id`,
		userID, ms(now)))
}

// RevokeAPIToken revokes one token. ErrNotFound if there is none; revoking
// a revoked token again changes nothing.
func (s *Store) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	if _, err := s.APITokenByID(ctx, id); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET revoked = 1, revoked_at = ? WHERE id = ? AND revoked = 0`, ms(at), id)
	return err
}

// RevokeUserAPITokens revokes every working token of a user and returns their ids.
func (s *Store) RevokeUserAPITokens(ctx context.Context, userID string, at time.Time) ([]string, error) {
	var ids []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if ids, err = orEmpty(queryAll(ctx, tx, scanString, `SELECT id FROM api_tokens WHERE user_id = ? AND revoked = 0 AND expires_at > ? ORDER BY id`,
			userID, ms(at))); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_tokens SET revoked = 1, revoked_at = ? WHERE user_id = ? AND revoked = 0`, ms(at), userID)
		return err
	})
	return ids, err
}

// TouchAPIToken records a use of a token.
func (s *Store) TouchAPIToken(ctx context.Context, id string, at time.Time, ip string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ?, last_used_ip = ? WHERE id = ?`, ms(at), ip, id)
	return err
}
