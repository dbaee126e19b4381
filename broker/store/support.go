package store

import (
	"context"
	"time"
)

// SupportSession is the stored record of a remote-support session.
type SupportSession struct {
	ID        string
	DeviceID  string
	Hostname  string
	Requester string
	State     string
	ViewOnly  bool
	Display   int
	Consent   string
	StartedAt time.Time
	EndedAt   time.Time
	EndReason string
	Details   string // JSON object: input counts, stats
}

// SaveSupportSession inserts or replaces the record.
func (s *Store) SaveSupportSession(ctx context.Context, r SupportSession) error {
	if r.Details == "" {
		r.Details = "{}"
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions(id, device_id, hostname, requester, state, view_only, display, consent, started_at, ended_at, end_reason, details)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET state=excluded.state, view_only=excluded.view_only, display=excluded.display, consent=excluded.consent,
		  ended_at=excluded.ended_at, end_reason=excluded.end_reason, details=excluded.details`,
		r.ID, r.DeviceID, r.Hostname, r.Requester, r.State, r.ViewOnly, r.Display, r.Consent, ms(r.StartedAt), ms(r.EndedAt), r.EndReason, r.Details)
	return err
}

const sessionCols = `id, device_id, hostname, requester, state, view_only, display, consent, started_at, ended_at, end_reason, details`

func scanSession(row interface{ Scan(...any) error }) (SupportSession, error) {
	var r SupportSession
	var st, en int64
	err := row.Scan(&r.ID, &r.DeviceID, &r.Hostname, &r.Requester, &r.State, &r.ViewOnly, &r.Display, &r.Consent, &st, &en, &r.EndReason, &r.Details)
	r.StartedAt, r.EndedAt = fromMS(st), fromMS(en)
	return r, err
}

// SupportSession returns one session record.
func (s *Store) SupportSession(ctx context.Context, id string) (SupportSession, error) {
	r, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id))
	return r, notFound(err, "session")
}

// SupportSessions lists the newest sessions, optionally of one device.
func (s *Store) SupportSessions(ctx context.Context, deviceID string, limit int) ([]SupportSession, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q := `SELECT ` + sessionCols + ` FROM sessions`
	args := []any{}
	if deviceID != "" {
		q += ` WHERE device_id = ?`
		args = append(args, deviceID)
	}
	q += ` ORDER BY started_at DESC LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, s.db, scanSession, q, args...)
}

// EndOpenSupportSessions marks sessions left open by a crash as ended.
func (s *Store) EndOpenSupportSessions(ctx context.Context, now time.Time, reason string) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET state = 'ended', ended_at = ?, end_reason = ? WHERE state NOT IN ('ended', 'declined')`, ms(now), reason)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
