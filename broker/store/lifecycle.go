package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrLastAdmin refuses a user change that would leave the broker without an
// enabled admin (nobody could manage users or settings any more).
var ErrLastAdmin = errors.New("this would leave no enabled admin: enable or create another admin first")

// ErrUnknownGroup is a role binding on a device group that does not exist.
var ErrUnknownGroup = errors.New("no such device group")

// UserChange is what ChangeUser sets; nil fields are left as they are.
type UserChange struct {
	Disabled     *bool
	Role         *string
	PasswordHash *string
	DeletedAt    *time.Time
	// Groups, when set, replaces the user's role bindings: a nil slice
	// makes the role hold on every device, a non-nil one (even empty) only
	// on those device groups.
	Groups *[]string
}

// ChangeUser applies c to a live (not deleted) user in one transaction and
// returns the user before and after, with their role-binding groups. It
// refuses with ErrLastAdmin a change after which no enabled admin is left,
// with ErrUnknownGroup a binding on an unknown group, and with ErrNotFound
// an unknown or deleted user.
func (s *Store) ChangeUser(ctx context.Context, id string, c UserChange) (before, after UserState, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if before, err = userState(ctx, tx, id); err != nil {
			return err
		}
		if before.User.Deleted() {
			return fmt.Errorf("user %s: %w", id, ErrNotFound)
		}
		after = before
		u := &after.User
		if c.Disabled != nil {
			u.Disabled = *c.Disabled
		}
		if c.Role != nil {
			u.Role = *c.Role
		}
		if c.PasswordHash != nil {
			u.PasswordHash = *c.PasswordHash
		}
		if c.DeletedAt != nil {
			u.DeletedAt = *c.DeletedAt
		}
		if c.Groups != nil {
			u.GroupBound = *c.Groups != nil
			after.Groups = slices.Clone(*c.Groups)
			if u.GroupBound && after.Groups == nil {
				after.Groups = []string{}
			}
		}
		return writeUserState(ctx, tx, after)
	})
	return before, after, err
}

// RestoreUser writes back a state ChangeUser returned as "before" (an
// action whose audit record could not be written is undone). The admin
// guard still holds.
func (s *Store) RestoreUser(ctx context.Context, st UserState) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := userState(ctx, tx, st.User.ID); err != nil {
			return err
		}
		return writeUserState(ctx, tx, st)
	})
}

// UserState is a user with the device groups of their role bindings
// (meaningful when User.GroupBound).
type UserState struct {
	User   User
	Groups []string
}

func userState(ctx context.Context, tx *sql.Tx, id string) (UserState, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if err != nil {
		return UserState{}, notFound(err, "user")
	}
	groups, err := userGroups(ctx, tx, id)
	return UserState{User: u, Groups: groups}, err
}

func writeUserState(ctx context.Context, tx *sql.Tx, st UserState) error {
	u := st.User
	if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ?, role = ?, password_hash = ?, deleted_at = ?, group_bound = ? WHERE id = ?`,
		u.Disabled, u.Role, u.PasswordHash, ms(u.DeletedAt), u.GroupBound, u.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM role_bindings WHERE user_id = ?`, u.ID); err != nil {
		return err
	}
	if u.GroupBound {
		for _, g := range st.Groups {
			if _, err := tx.ExecContext(ctx, `INSERT INTO role_bindings(user_id, group_id, role) VALUES(?,?,?)`, u.ID, g, u.Role); err != nil {
				if strings.Contains(err.Error(), "FOREIGN KEY") {
					return fmt.Errorf("role binding on group %s: %w", g, ErrUnknownGroup)
				}
				if isUnique(err) {
					continue // the same group twice
				}
				return err
			}
		}
	}
	var admins int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND deleted_at = 0`).Scan(&admins); err != nil {
		return err
	}
	if admins == 0 {
		return ErrLastAdmin
	}
	return nil
}

// CreateUserIn inserts u with role bindings on groups (when u.GroupBound).
func (s *Store) CreateUserIn(ctx context.Context, u User, groups []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return insertUserIn(ctx, tx, u, groups) })
}

// insertUserIn inserts u and its role bindings in tx; ErrConflict if the name is taken.
func insertUserIn(ctx context.Context, tx *sql.Tx, u User, groups []string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO users(id, username, password_hash, role, created_at, disabled, group_bound) VALUES(?,?,?,?,?,?,?)`,
		u.ID, u.Username, u.PasswordHash, u.Role, ms(u.CreatedAt), u.Disabled, u.GroupBound)
	if isUnique(err) {
		return fmt.Errorf("user %q: %w", u.Username, ErrConflict)
	}
	if err != nil {
		return err
	}
	return writeUserState(ctx, tx, UserState{User: u, Groups: groups})
}

// UserGroups returns the device groups of a user's role bindings, sorted.
func (s *Store) UserGroups(ctx context.Context, userID string) ([]string, error) {
	return userGroups(ctx, s.db, userID)
}

func userGroups(ctx context.Context, q queryer, userID string) ([]string, error) {
	return orEmpty(queryAll(ctx, q, scanString, `SELECT group_id FROM role_bindings WHERE user_id = ? ORDER BY group_id`, userID))
}

// RoleBindings returns every user's role-binding groups by user id.
func (s *Store) RoleBindings(ctx context.Context) (map[string][]string, error) {
	type row struct{ user, group string }
	rows, err := queryAll(ctx, s.db, func(r interface{ Scan(...any) error }) (row, error) {
		var x row
		return x, r.Scan(&x.user, &x.group)
	}, `SELECT user_id, group_id FROM role_bindings ORDER BY user_id, group_id`)
	out := map[string][]string{}
	for _, x := range rows {
		out[x.user] = append(out[x.user], x.group)
	}
	return out, err
}

// CountUserWebSessions returns how many portal sessions a user has open.
func (s *Store) CountUserWebSessions(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM web_sessions WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}
