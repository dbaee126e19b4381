package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Entitlement is a named right on a device group with its policies as
// JSON (decoded by broker/access into policy.Policy).
type Entitlement struct {
	ID        string
	Name      string
	GroupID   string
	Request   string // policy JSON
	Emergency string // policy JSON, "" when there is no emergency path
	UpdatedAt time.Time
}

// PutEntitlement creates the entitlement or replaces the policies of the
// one with the same name and group; it returns the stored id.
func (s *Store) PutEntitlement(ctx context.Context, e Entitlement) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `INSERT INTO entitlements(id, name, group_id, request, emergency, updated_at) VALUES(?,?,?,?,?,?)
		ON CONFLICT(name, group_id) DO UPDATE SET request = excluded.request, emergency = excluded.emergency, updated_at = excluded.updated_at
		RETURNING id`, e.ID, e.Name, e.GroupID, e.Request, e.Emergency, ms(e.UpdatedAt)).Scan(&id)
	return id, err
}

// DeleteEntitlement removes one; requests already made keep their payload.
func (s *Store) DeleteEntitlement(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM entitlements WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(sql.ErrNoRows, "entitlement")
	}
	return nil
}

const entitlementCols = `id, name, group_id, request, emergency, updated_at`

func scanEntitlement(row interface{ Scan(...any) error }) (Entitlement, error) {
	var e Entitlement
	var u int64
	err := row.Scan(&e.ID, &e.Name, &e.GroupID, &e.Request, &e.Emergency, &u)
	e.UpdatedAt = fromMS(u)
	return e, err
}

// EntitlementByID returns one entitlement.
func (s *Store) EntitlementByID(ctx context.Context, id string) (Entitlement, error) {
	e, err := scanEntitlement(s.db.QueryRowContext(ctx, `SELECT `+entitlementCols+` FROM entitlements WHERE id = ?`, id))
	return e, notFound(err, "entitlement")
}

// Entitlements lists entitlements by name, then group.
func (s *Store) Entitlements(ctx context.Context) ([]Entitlement, error) {
	return orEmpty(queryAll(ctx, s.db, scanEntitlement, `SELECT `+entitlementCols+` FROM entitlements ORDER BY name, group_id`))
}

// ErrChanged means a request changed since it was read (another decision
// won the race); the caller reloads and retries or reports a conflict.
var ErrChanged = errors.New("request changed meanwhile; reload and try again")

// KindRequests lists the requests of one kind, newest first (at most 1000).
func (s *Store) KindRequests(ctx context.Context, kind string) ([]Request, error) {
	return orEmpty(queryAll(ctx, s.db, scanRequest, `SELECT `+requestCols+` FROM requests WHERE kind = ? ORDER BY created_at DESC, id LIMIT 1000`, kind))
}

// UpdateRequest writes a request's status, payload, expiry and decision,
// only if its status and payload are still oldStatus and oldPayload
// (compare and swap): kinds whose requests change after creation (access
// requests collect approvals, escalate, get revoked) use it.
func (s *Store) UpdateRequest(ctx context.Context, r Request, oldStatus, oldPayload string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE requests SET status = ?, payload = ?, expires_at = ?, decided_by = ?, decided_at = ?, comment = ?
		WHERE id = ? AND status = ? AND payload = ?`, r.Status, r.Payload, ms(r.ExpiresAt), r.DecidedBy, ms(r.DecidedAt), r.Comment,
		r.ID, oldStatus, oldPayload)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.Request(ctx, r.ID); err != nil {
			return err
		}
		return ErrChanged
	}
	return nil
}
