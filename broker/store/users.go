package store

import (
	"context"
	"fmt"
	"time"

	"porthole/internal/wire"
)

// User is a portal account.
type User struct {
	ID           string
	Username     string
	PasswordHash string
	Role         string
	CreatedAt    time.Time
	Disabled     bool
	// DeletedAt is when the user was deleted (zero: not deleted). A
	// deleted user is a tombstone: always Disabled, never listed as live.
	DeletedAt time.Time
	// GroupBound: the role's device rights hold only on the groups of the
	// user's role bindings (UserGroups), not on every device.
	GroupBound bool
}

// Deleted reports whether u is a tombstone.
func (u User) Deleted() bool { return !u.DeletedAt.IsZero() }

// CreateUser inserts u with its username case-folded; ErrConflict if the
// username is taken in any case.
func (s *Store) CreateUser(ctx context.Context, u User) error {
	u.Username = wire.FoldUsername(u.Username)
	_, err := s.db.ExecContext(ctx, `INSERT INTO users(id, username, password_hash, role, created_at, disabled, group_bound) VALUES(?,?,?,?,?,?,?)`,
		u.ID, u.Username, u.PasswordHash, u.Role, ms(u.CreatedAt), u.Disabled, u.GroupBound)
	if isUnique(err) {
		return fmt.Errorf("user %q: %w", u.Username, ErrConflict)
	}
	return err
}

// CountUsers returns how many users exist (zero means first run).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

const userCols = `id, username, password_hash, role, created_at, disabled, deleted_at, group_bound`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, deleted int64
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Role, &created, &u.Disabled, &deleted, &u.GroupBound)
	u.CreatedAt, u.DeletedAt = fromMS(created), fromMS(deleted)
	return u, err
}

// UserByName looks a user up by username, in any case.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE username = ?`, wire.FoldUsername(name)))
	return u, notFound(err, "user")
}

// UserByID looks a user up by id.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, notFound(err, "user")
}

// Users lists all users by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	return queryAll(ctx, s.db, scanUser, `SELECT `+userCols+` FROM users ORDER BY username`)
}

// SetPassword replaces a user's password hash.
func (s *Store) SetPassword(ctx context.Context, userID, hash string) error {
	return s.execOne(ctx, "user", `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
}

func (s *Store) execOne(ctx context.Context, what, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}
