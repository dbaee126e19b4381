package store

import (
	"context"
	"time"
)

// BreakGlassGrant is the stored record of one break-glass account. It
// never holds the password.
type BreakGlassGrant struct {
	ID        string    `json:"id"`
	DeviceID  string    `json:"device_id"`
	Requester string    `json:"requester"`
	Username  string    `json:"username"`
	Status    string    `json:"status"`
	Detail    string    `json:"detail,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UseBy     time.Time `json:"use_by,omitzero"`
	UpdatedAt time.Time `json:"updated_at"`
}

const grantCols = `id, device_id, requester, username, status, detail, created_at, expires_at, use_by, updated_at`

func scanGrant(row interface{ Scan(...any) error }) (BreakGlassGrant, error) {
	var g BreakGlassGrant
	var c, e, u, up int64
	err := row.Scan(&g.ID, &g.DeviceID, &g.Requester, &g.Username, &g.Status, &g.Detail, &c, &e, &u, &up)
	g.CreatedAt, g.ExpiresAt, g.UseBy, g.UpdatedAt = fromMS(c), fromMS(e), fromMS(u), fromMS(up)
	return g, err
}

// CreateBreakGlassGrant inserts a new grant.
func (s *Store) CreateBreakGlassGrant(ctx context.Context, g BreakGlassGrant) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO breakglass_grants(`+grantCols+`) VALUES(?,?,?,?,?,?,?,?,?,?)`,
		g.ID, g.DeviceID, g.Requester, g.Username, g.Status, g.Detail, ms(g.CreatedAt), ms(g.ExpiresAt), ms(g.UseBy), ms(g.UpdatedAt))
	return err
}

// BreakGlassGrant returns one grant.
func (s *Store) BreakGlassGrant(ctx context.Context, id string) (BreakGlassGrant, error) {
	g, err := scanGrant(s.db.QueryRowContext(ctx, `SELECT `+grantCols+` FROM breakglass_grants WHERE id = ?`, id))
	return g, notFound(err, "break-glass grant")
}

// BreakGlassGrants lists a device's grants, newest first (at most 200).
func (s *Store) BreakGlassGrants(ctx context.Context, deviceID string) ([]BreakGlassGrant, error) {
	return queryAll(ctx, s.db, scanGrant, `SELECT `+grantCols+` FROM breakglass_grants WHERE device_id = ? ORDER BY created_at DESC, id LIMIT 200`, deviceID)
}

// UpdateBreakGlassGrant sets a grant's status (and username and use-by
// when not empty), unless its status is one of final: a late or repeated
// event never brings a removed account back to life. It reports whether the
// row changed.
func (s *Store) UpdateBreakGlassGrant(ctx context.Context, id, deviceID, status, username, detail string, useBy, now time.Time, final ...string) (bool, error) {
	q := `UPDATE breakglass_grants SET status = ?, updated_at = ?,
		username = CASE WHEN ? <> '' THEN ? ELSE username END,
		detail = CASE WHEN ? <> '' THEN ? ELSE detail END,
		use_by = CASE WHEN ? <> 0 THEN ? ELSE use_by END
		WHERE id = ? AND device_id = ?`
	args := []any{status, ms(now), username, username, detail, detail, ms(useBy), ms(useBy), id, deviceID}
	for _, f := range final {
		q += ` AND status <> ?`
		args = append(args, f)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
