package store

import (
	"context"
	"database/sql"
	"time"
)

// LoginLimit is one key's state in a brute-force limiter.
type LoginLimit struct {
	Key         string
	Failures    int
	LastFail    time.Time
	LockedUntil time.Time
}

// SaveLoginLimit writes l for scope, replacing what was there.
func (s *Store) SaveLoginLimit(ctx context.Context, scope string, l LoginLimit) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO login_limits(scope, key, failures, last_fail, locked_until) VALUES(?,?,?,?,?)
		ON CONFLICT(scope, key) DO UPDATE SET failures = excluded.failures, last_fail = excluded.last_fail, locked_until = excluded.locked_until`,
		scope, l.Key, l.Failures, ms(l.LastFail), ms(l.LockedUntil))
	return err
}

// DeleteLoginLimit forgets key in scope (after a right password or code).
func (s *Store) DeleteLoginLimit(ctx context.Context, scope, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM login_limits WHERE scope = ? AND key = ?`, scope, key)
	return err
}

// LoginLimits deletes scope's entries that failed last before forgetBefore
// and are no longer locked at now, and returns the rest, oldest failure
// first.
func (s *Store) LoginLimits(ctx context.Context, scope string, forgetBefore, now time.Time) ([]LoginLimit, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM login_limits WHERE scope = ? AND last_fail < ? AND locked_until <= ?`,
		scope, ms(forgetBefore), ms(now)); err != nil {
		return nil, err
	}
	return queryAll(ctx, s.db, func(row interface{ Scan(...any) error }) (LoginLimit, error) {
		var l LoginLimit
		var last, locked int64
		err := row.Scan(&l.Key, &l.Failures, &last, &locked)
		l.LastFail, l.LockedUntil = fromMS(last), fromMS(locked)
		return l, err
	}, `SELECT key, failures, last_fail, locked_until FROM login_limits WHERE scope = ? ORDER BY last_fail, key`, scope)
}

// RememberLoginAddress records that userID completed a login from addr at
// now, keeping the keep most recently used addresses of that user.
func (s *Store) RememberLoginAddress(ctx context.Context, userID, addr string, now time.Time, keep int) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO login_addresses(user_id, addr, last_ok) VALUES(?,?,?)
			ON CONFLICT(user_id, addr) DO UPDATE SET last_ok = excluded.last_ok`, userID, addr, ms(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM login_addresses WHERE user_id = ? AND addr NOT IN
			(SELECT addr FROM login_addresses WHERE user_id = ? ORDER BY last_ok DESC, addr LIMIT ?)`, userID, userID, keep)
		return err
	})
}

// KnownLoginAddress reports whether userID completed a login from addr at
// or after since.
func (s *Store) KnownLoginAddress(ctx context.Context, userID, addr string, since time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_addresses WHERE user_id = ? AND addr = ? AND last_ok >= ?`,
		userID, addr, ms(since)).Scan(&n)
	return n > 0, err
}
