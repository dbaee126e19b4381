package store

import (
	"context"
	"database/sql"
	"errors"
)

// Setting reads one setting; ok is false when it was never set.
func (s *Store) Setting(ctx context.Context, scope, key string) (value string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE scope = ? AND key = ?`, scope, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return value, err == nil, err
}

// SetSetting writes one setting.
func (s *Store) SetSetting(ctx context.Context, scope, key, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO settings(scope, key, value) VALUES(?,?,?)
		ON CONFLICT(scope, key) DO UPDATE SET value = excluded.value`, scope, key, value)
	return err
}

// DeleteSetting removes one setting from a scope (no error if it was unset).
func (s *Store) DeleteSetting(ctx context.Context, scope, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM settings WHERE scope = ? AND key = ?`, scope, key)
	return err
}
