package store

import (
	"context"
	"time"
)

// WebSession is a logged-in browser. Only the SHA-256 of its cookie value is stored.
type WebSession struct {
	IDHash    string
	UserID    string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
	// MFAPending marks a session whose password was checked but whose
	// second factor was not: it may only call the MFA endpoints.
	MFAPending bool
	// MFAAt is the time of the session's last TOTP verification (zero if
	// none), which the step-up check before a support session reads.
	MFAAt time.Time
	// LoginMethod is how the session logged in ("password",
	// "password+totp", "password+passkey", "passkey", "sso:PROVIDER");
	// MFAMethod is what set MFAAt ("totp", "passkey", "idp").
	LoginMethod string
	MFAMethod   string
	// PendingFactor is what a pending session still owes: "" (a TOTP code,
	// or its enrollment) or "passkey" (its role needs a phishing-resistant
	// factor).
	PendingFactor string
}

// CreateWebSession stores a new session.
func (s *Store) CreateWebSession(ctx context.Context, ws WebSession) error {
	if ws.LoginMethod == "" {
		ws.LoginMethod = "password"
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO web_sessions(id_hash, user_id, created_at, last_seen, expires_at, mfa_pending, mfa_at,
		login_method, mfa_method, pending_factor) VALUES(?,?,?,?,?,?,?,?,?,?)`,
		ws.IDHash, ws.UserID, ms(ws.CreatedAt), ms(ws.LastSeen), ms(ws.ExpiresAt), ws.MFAPending, ms(ws.MFAAt),
		ws.LoginMethod, ws.MFAMethod, ws.PendingFactor)
	return err
}

// WebSession returns the session with the given hash.
func (s *Store) WebSession(ctx context.Context, idHash string) (WebSession, error) {
	var ws WebSession
	var c, l, e, m int64
	err := s.db.QueryRowContext(ctx, `SELECT id_hash, user_id, created_at, last_seen, expires_at, mfa_pending, mfa_at,
		login_method, mfa_method, pending_factor FROM web_sessions WHERE id_hash = ?`, idHash).
		Scan(&ws.IDHash, &ws.UserID, &c, &l, &e, &ws.MFAPending, &m, &ws.LoginMethod, &ws.MFAMethod, &ws.PendingFactor)
	ws.CreatedAt, ws.LastSeen, ws.ExpiresAt, ws.MFAAt = fromMS(c), fromMS(l), fromMS(e), fromMS(m)
	return ws, notFound(err, "web session")
}

// TouchWebSession records activity for the idle timeout.
func (s *Store) TouchWebSession(ctx context.Context, idHash string, at time.Time) error {
	return s.execOne(ctx, "web session", `UPDATE web_sessions SET last_seen = ? WHERE id_hash = ?`, ms(at), idHash)
}

// SetWebSessionMFA records a step-up (a TOTP code, a passkey or a fresh
// IdP sign-in: method) on a full session.
func (s *Store) SetWebSessionMFA(ctx context.Context, idHash string, at time.Time, method string) error {
	return s.execOne(ctx, "web session", `UPDATE web_sessions SET mfa_at = ?, mfa_method = ? WHERE id_hash = ? AND mfa_pending = 0`,
		ms(at), method, idHash)
}

// DeleteWebSession ends a session (logout, timeout).
func (s *Store) DeleteWebSession(ctx context.Context, idHash string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE id_hash = ?`, idHash)
	return err
}

// DeleteUserWebSessions ends every session of a user (MFA reset, disable)
// and returns how many there were.
func (s *Store) DeleteUserWebSessions(ctx context.Context, userID string) (int, error) {
	return s.deleteCount(ctx, `DELETE FROM web_sessions WHERE user_id = ?`, userID)
}

// DeleteExpiredWebSessions removes sessions past their absolute expiry.
func (s *Store) DeleteExpiredWebSessions(ctx context.Context, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE expires_at <= ?`, ms(now))
	return err
}
