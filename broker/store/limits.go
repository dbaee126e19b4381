package store

import (
	"context"
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
