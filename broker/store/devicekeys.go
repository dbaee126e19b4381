package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// DeviceKeys are a device's elevation-code keys, sealed: the one in force
// and, while a rotation waits for the agent's acknowledgement, the next.
type DeviceKeys struct {
	Current []byte
	Next    []byte // empty when no rotation is pending
	// Rotation names the pending rotation ("" = none); InForce the
	// rotation the current key came from ("" = enrollment).
	Rotation, InForce string
	RotatedAt         time.Time
	Revoked           bool
}

// Pending reports whether a rotation waits for the agent.
func (k DeviceKeys) Pending() bool { return k.Rotation != "" && len(k.Next) > 0 }

// DeviceKeys returns the device's keys (ErrNotFound if there is no such device).
func (s *Store) DeviceKeys(ctx context.Context, id string) (DeviceKeys, error) {
	var k DeviceKeys
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT secret_sealed, next_secret_sealed, key_rotation, key_in_force, key_rotated_at, revoked
		FROM devices WHERE id = ?`, id).Scan(&k.Current, &k.Next, &k.Rotation, &k.InForce, &at, &k.Revoked)
	if at != 0 {
		k.RotatedAt = fromMS(at)
	}
	return k, notFound(err, "device")
}

// StartKeyRotation stores next (sealed) as the device's next key under
// rotation, replacing a rotation still pending; the key in force stays.
func (s *Store) StartKeyRotation(ctx context.Context, id, rotation string, next []byte) error {
	return s.execOne(ctx, "device", `UPDATE devices SET next_secret_sealed = ?, key_rotation = ? WHERE id = ?`, next, rotation, id)
}

// CompleteKeyRotation puts the next key of rotation in force, if rotation
// is still the device's pending one; done reports whether it was (a stale
// or repeated acknowledgement changes nothing).
func (s *Store) CompleteKeyRotation(ctx context.Context, id, rotation string, at time.Time) (done bool, err error) {
	res, err := s.db.ExecContext(ctx, `UPDATE devices SET secret_sealed = next_secret_sealed, next_secret_sealed = x'',
		key_in_force = key_rotation, key_rotation = '', key_rotated_at = ?
		WHERE id = ? AND key_rotation = ? AND length(next_secret_sealed) > 0`, ms(at), id, rotation)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SealPlaintextSecrets seals, in one transaction, every device secret an
// older broker stored in plaintext (the secret column), and empties that
// column. The database runs with secure_delete, and the write-ahead log is
// checkpointed and truncated afterwards, so the plaintext does not linger
// in free pages or in the -wal file. It returns how many rows it sealed.
func (s *Store) SealPlaintextSecrets(ctx context.Context, seal func(deviceID string, secret []byte) ([]byte, error)) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		type row struct {
			id     string
			secret []byte
		}
		rows, err := queryAll(ctx, tx, func(r interface{ Scan(...any) error }) (row, error) {
			var x row
			return x, r.Scan(&x.id, &x.secret)
		}, `SELECT id, secret FROM devices WHERE length(secret) > 0`)
		if err != nil {
			return err
		}
		for _, r := range rows {
			sealed, err := seal(r.id, r.secret)
			if err != nil {
				return fmt.Errorf("seal device %s secret: %w", r.id, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE devices SET secret_sealed = ?, secret = x'' WHERE id = ?`, sealed, r.id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil || n == 0 {
		return n, err
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return n, fmt.Errorf("checkpoint after sealing: %w", err)
	}
	return n, nil
}
