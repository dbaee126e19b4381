package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// OIDCIdentity links a user to an OpenID Provider's account: (Issuer,
// Subject) is the identity, never an email or a name (ADR 0015).
type OIDCIdentity struct {
	Issuer      string
	Subject     string
	UserID      string
	Provider    string // the configured provider's id
	CreatedAt   time.Time
	LastLoginAt time.Time
}

const identityCols = `issuer, subject, user_id, provider, created_at, last_login_at`

func scanIdentity(row interface{ Scan(...any) error }) (OIDCIdentity, error) {
	var id OIDCIdentity
	var c, l int64
	err := row.Scan(&id.Issuer, &id.Subject, &id.UserID, &id.Provider, &c, &l)
	id.CreatedAt, id.LastLoginAt = fromMS(c), fromMS(l)
	return id, err
}

// Identity finds the link of (issuer, subject); ErrNotFound if none.
func (s *Store) Identity(ctx context.Context, issuer, subject string) (OIDCIdentity, error) {
	id, err := scanIdentity(s.db.QueryRowContext(ctx, `SELECT `+identityCols+` FROM oidc_identities WHERE issuer = ? AND subject = ?`,
		issuer, subject))
	return id, notFound(err, "identity")
}

// UserIdentities lists a user's OIDC identities.
func (s *Store) UserIdentities(ctx context.Context, userID string) ([]OIDCIdentity, error) {
	return orEmpty(queryAll(ctx, s.db, scanIdentity, `SELECT `+identityCols+` FROM oidc_identities WHERE user_id = ? ORDER BY issuer`, userID))
}

// CreateUserWithIdentity inserts a user created just in time by an OIDC
// sign-in, its role bindings (when u.GroupBound) and its identity, in one
// transaction: ErrConflict if the name or the identity is taken.
func (s *Store) CreateUserWithIdentity(ctx context.Context, u User, groups []string, id OIDCIdentity) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := insertUserIn(ctx, tx, u, groups); err != nil {
			return err
		}
		id.UserID = u.ID
		return insertIdentity(ctx, tx, id)
	})
}

// LinkIdentity links an identity to an existing user (an admin's explicit
// link): ErrConflict if the identity is linked already, or the user has
// one from that issuer.
func (s *Store) LinkIdentity(ctx context.Context, id OIDCIdentity) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return insertIdentity(ctx, tx, id) })
}

func insertIdentity(ctx context.Context, tx *sql.Tx, id OIDCIdentity) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO oidc_identities(`+identityCols+`) VALUES(?,?,?,?,?,?)`,
		id.Issuer, id.Subject, id.UserID, id.Provider, ms(id.CreatedAt), ms(id.LastLoginAt))
	if isUnique(err) {
		return fmt.Errorf("identity %s of %s: %w", id.Subject, id.Issuer, ErrConflict)
	}
	return err
}

// TouchIdentity records a sign-in with an identity.
func (s *Store) TouchIdentity(ctx context.Context, issuer, subject string, at time.Time) error {
	return s.execOne(ctx, "identity", `UPDATE oidc_identities SET last_login_at = ? WHERE issuer = ? AND subject = ?`, ms(at), issuer, subject)
}

// DeleteUserIdentities unlinks every identity of a user (deletion).
func (s *Store) DeleteUserIdentities(ctx context.Context, userID string) (int, error) {
	return s.deleteCount(ctx, `DELETE FROM oidc_identities WHERE user_id = ?`, userID)
}

// deleteCount runs a DELETE and returns how many rows it removed.
func (s *Store) deleteCount(ctx context.Context, q string, args ...any) (int, error) {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// WebAuthnCredential is a registered passkey or security key.
type WebAuthnCredential struct {
	ID          string // credential id, base64url
	UserID      string
	Name        string
	PublicKey   []byte // COSE
	Attestation string
	AAGUID      []byte
	SignCount   uint32
	Transports  []string
	Flags       uint8 // the authenticator data flags at registration (backup eligible / state)
	CreatedAt   time.Time
	LastUsedAt  time.Time
}

const credentialCols = `id, user_id, name, public_key, attestation, aaguid, sign_count, transports, flags, created_at, last_used_at`

func scanCredential(row interface{ Scan(...any) error }) (WebAuthnCredential, error) {
	var c WebAuthnCredential
	var tr string
	var created, used int64
	var count int64
	err := row.Scan(&c.ID, &c.UserID, &c.Name, &c.PublicKey, &c.Attestation, &c.AAGUID, &count, &tr, &c.Flags, &created, &used)
	c.SignCount, c.Transports = uint32(count), strings.Fields(tr)
	c.CreatedAt, c.LastUsedAt = fromMS(created), fromMS(used)
	return c, err
}

// CreateWebAuthnCredential stores a new credential; ErrConflict if its id
// is registered already (to anyone).
func (s *Store) CreateWebAuthnCredential(ctx context.Context, c WebAuthnCredential) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO webauthn_credentials(`+credentialCols+`) VALUES(?,?,?,?,?,?,?,?,?,?,?)`,
		c.ID, c.UserID, c.Name, c.PublicKey, c.Attestation, c.AAGUID, int64(c.SignCount), strings.Join(c.Transports, " "), c.Flags,
		ms(c.CreatedAt), ms(c.LastUsedAt))
	if isUnique(err) {
		return fmt.Errorf("credential: %w", ErrConflict)
	}
	return err
}

// UserWebAuthnCredentials lists a user's credentials, oldest first.
func (s *Store) UserWebAuthnCredentials(ctx context.Context, userID string) ([]WebAuthnCredential, error) {
	return orEmpty(queryAll(ctx, s.db, scanCredential, `SELECT `+credentialCols+` FROM webauthn_credentials WHERE user_id = ? ORDER BY created_at, id`, userID))
}

// WebAuthnCredentialByID finds a credential by its id (ErrNotFound).
func (s *Store) WebAuthnCredentialByID(ctx context.Context, id string) (WebAuthnCredential, error) {
	c, err := scanCredential(s.db.QueryRowContext(ctx, `SELECT `+credentialCols+` FROM webauthn_credentials WHERE id = ?`, id))
	return c, notFound(err, "credential")
}

// UseWebAuthnCredential records an assertion: the new sign count and when.
// It refuses (ErrConflict) a count that is not above the stored one when
// either is non-zero, so two racing assertions cannot both pass.
func (s *Store) UseWebAuthnCredential(ctx context.Context, id string, count uint32, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE webauthn_credentials SET sign_count = ?, last_used_at = ?
		WHERE id = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`, int64(count), ms(at), id, int64(count), int64(count))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("credential %s sign count: %w", id, ErrConflict)
	}
	return nil
}

// RenameWebAuthnCredential renames one of a user's credentials.
func (s *Store) RenameWebAuthnCredential(ctx context.Context, userID, id, name string) error {
	return s.execOne(ctx, "credential", `UPDATE webauthn_credentials SET name = ? WHERE id = ? AND user_id = ?`, name, id, userID)
}

// DeleteWebAuthnCredential removes one of a user's credentials (ErrNotFound).
func (s *Store) DeleteWebAuthnCredential(ctx context.Context, userID, id string) error {
	return s.execOne(ctx, "credential", `DELETE FROM webauthn_credentials WHERE id = ? AND user_id = ?`, id, userID)
}

// DeleteUserWebAuthnCredentials removes every credential of a user (MFA
// reset, deletion) and returns how many there were.
func (s *Store) DeleteUserWebAuthnCredentials(ctx context.Context, userID string) (int, error) {
	return s.deleteCount(ctx, `DELETE FROM webauthn_credentials WHERE user_id = ?`, userID)
}
