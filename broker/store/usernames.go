package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"porthole/internal/wire"
)

// ErrUsernameCase refuses to fold usernames (migration 13) while two
// accounts differ only in case; the error is a *UsernameCollisionError.
var ErrUsernameCase = errors.New("usernames differ only in case")

// UsernameCollisionError names the accounts that would fold to one
// username, so an operator can rename all but one of each group
// (porthole-broker admin rename) and start again. Nothing was changed.
type UsernameCollisionError struct {
	Groups [][]User // each: two or more accounts with one folded name, oldest first
}

func (e *UsernameCollisionError) Error() string {
	var b strings.Builder
	b.WriteString("usernames are now case-insensitive, and these accounts differ only in case:")
	for _, g := range e.Groups {
		b.WriteString("\n ")
		for _, u := range g {
			fmt.Fprintf(&b, " %q (id %s, %s, created %s, %s);", u.Username, u.ID, u.Role, u.CreatedAt.UTC().Format(time.DateOnly),
				map[bool]string{true: "disabled", false: "enabled"}[u.Disabled])
		}
	}
	b.WriteString("\nNothing was changed. Rename all but one account of each group, for example:" +
		"\n  porthole-broker admin rename --data-dir DIR --id ID --to NEW_NAME" +
		"\nthen start the broker again.")
	return b.String()
}

func (e *UsernameCollisionError) Unwrap() error { return ErrUsernameCase }

// foldUsernames is migration 13's Go half: it refuses while two accounts
// differ only in case, and folds the user names inside access request
// payloads and entitlement policies (the SQL folds the columns).
func foldUsernames(ctx context.Context, tx *sql.Tx) error {
	// Only the columns of the users table as of this migration (later
	// migrations add more, and this runs before them on an old database).
	users, err := queryAll(ctx, tx, func(row interface{ Scan(...any) error }) (User, error) {
		var u User
		var created int64
		err := row.Scan(&u.ID, &u.Username, &u.Role, &created, &u.Disabled)
		u.CreatedAt = fromMS(created)
		return u, err
	}, `SELECT id, username, role, created_at, disabled FROM users ORDER BY created_at, id`)
	if err != nil {
		return err
	}
	byFold := map[string][]User{}
	for _, u := range users {
		f := wire.FoldUsername(u.Username)
		byFold[f] = append(byFold[f], u)
	}
	var clash UsernameCollisionError
	for _, g := range byFold {
		if len(g) > 1 {
			clash.Groups = append(clash.Groups, g)
		}
	}
	if len(clash.Groups) > 0 {
		sort.Slice(clash.Groups, func(i, j int) bool {
			return wire.FoldUsername(clash.Groups[i][0].Username) < wire.FoldUsername(clash.Groups[j][0].Username)
		})
		return &clash
	}
	if err := rewriteJSON(ctx, tx, `SELECT id, payload FROM requests WHERE kind = 'access'`, `UPDATE requests SET payload = ? WHERE id = ?`,
		foldAccessPayload); err != nil {
		return fmt.Errorf("fold access requests: %w", err)
	}
	for _, col := range []string{"request", "emergency"} {
		if err := rewriteJSON(ctx, tx, `SELECT id, `+col+` FROM entitlements WHERE `+col+` <> ''`,
			`UPDATE entitlements SET `+col+` = ? WHERE id = ?`, foldPolicy); err != nil {
			return fmt.Errorf("fold entitlement approvers: %w", err)
		}
	}
	return nil
}

// rewriteJSON runs fold over the JSON object in the second column of each
// row sel returns and writes back the changed ones with upd (value, id).
func rewriteJSON(ctx context.Context, tx *sql.Tx, sel, upd string, fold func(map[string]json.RawMessage) (bool, error)) error {
	type row struct{ id, doc string }
	rows, err := queryAll(ctx, tx, func(r interface{ Scan(...any) error }) (row, error) {
		var x row
		return x, r.Scan(&x.id, &x.doc)
	}, sel)
	if err != nil {
		return err
	}
	for _, x := range rows {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(x.doc), &m); err != nil {
			return fmt.Errorf("row %s: %w", x.id, err)
		}
		changed, err := fold(m)
		if err != nil {
			return fmt.Errorf("row %s: %w", x.id, err)
		}
		if !changed {
			continue
		}
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, upd, string(b), x.id); err != nil {
			return err
		}
	}
	return nil
}

// foldAccessPayload folds an access request's requester and approvers.
func foldAccessPayload(m map[string]json.RawMessage) (bool, error) {
	changed, err := foldField(m, "requester")
	if err != nil {
		return false, err
	}
	raw, ok := m["approvals"]
	if !ok || string(raw) == "null" {
		return changed, nil
	}
	var approvals []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &approvals); err != nil {
		return false, err
	}
	folded := false
	for _, a := range approvals {
		c, err := foldField(a, "by")
		if err != nil {
			return false, err
		}
		folded = folded || c
	}
	if folded {
		b, err := json.Marshal(approvals)
		if err != nil {
			return false, err
		}
		m["approvals"] = b
	}
	return changed || folded, nil
}

// foldPolicy folds the "user:NAME" entries of a policy's approvers.
func foldPolicy(m map[string]json.RawMessage) (bool, error) {
	raw, ok := m["approvers"]
	if !ok || string(raw) == "null" {
		return false, nil
	}
	var approvers []string
	if err := json.Unmarshal(raw, &approvers); err != nil {
		return false, err
	}
	changed := false
	for i := range approvers {
		changed = foldInPlace(&approvers[i], "user:") || changed
	}
	if !changed {
		return false, nil
	}
	b, err := json.Marshal(approvers)
	m["approvers"] = b
	return true, err
}

// foldField folds the username in the string field key of m, if present.
func foldField(m map[string]json.RawMessage, key string) (bool, error) {
	raw, ok := m[key]
	if !ok {
		return false, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, err
	}
	if !foldInPlace(&v, "") {
		return false, nil
	}
	b, err := json.Marshal(v)
	m[key] = b
	return true, err
}

// foldInPlace folds the username in *v after prefix (only when *v has the
// prefix) and reports whether it changed.
func foldInPlace(v *string, prefix string) bool {
	name, ok := strings.CutPrefix(*v, prefix)
	if !ok {
		return false
	}
	f := prefix + wire.FoldUsername(name)
	changed := f != *v
	*v = f
	return changed
}

// RenameUser gives the account id a new username (case-folded), for an
// operator resolving usernames that differ only in case. ErrConflict when
// the name is taken, ErrNotFound when there is no such account.
func (s *Store) RenameUser(ctx context.Context, id, name string) error {
	name = wire.FoldUsername(name)
	err := s.execOne(ctx, "user", `UPDATE users SET username = ? WHERE id = ?`, name, id)
	if isUnique(err) {
		return fmt.Errorf("user %q: %w", name, ErrConflict)
	}
	return err
}

// OpenForRepair opens the database at path like Open, but stops at a
// migration that is refused (usernames that differ only in case) instead
// of failing, so that an offline tool can fix the data, and reports the
// refusal as blocked. The Store serves the tables of the migrations
// applied; start the broker (Open) once the data is fixed.
func OpenForRepair(ctx context.Context, path string) (st *Store, blocked error, err error) {
	st, err = Open(ctx, path)
	if err == nil || !errors.Is(err, ErrUsernameCase) {
		return st, nil, err
	}
	blocked = err
	dsn := "file:" + filepath.ToSlash(path) + "?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return &Store{db: db}, blocked, nil
}
