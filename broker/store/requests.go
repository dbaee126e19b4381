package store

import (
	"context"
	"errors"
	"time"
)

// Request statuses.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestDenied   = "denied"
	RequestExpired  = "expired"
)

// Request is one entry of the requests queue. Kind says what is asked
// (support, elevation, access); Payload is the kind-specific part as JSON.
type Request struct {
	ID           string
	Kind         string
	DeviceID     string
	Requester    string // who asked: "device:ID" for an end user at an endpoint, or a portal user
	ContactName  string
	ContactEmail string
	ContactPhone string
	Reason       string
	Payload      string
	Status       string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	DecidedBy    string
	DecidedAt    time.Time
	Comment      string
	SessionID    string
}

const requestCols = `id, kind, device_id, requester, contact_name, contact_email, contact_phone, reason, payload, status,
	created_at, expires_at, decided_by, decided_at, comment, session_id`

func scanRequest(row interface{ Scan(...any) error }) (Request, error) {
	var r Request
	var c, e, d int64
	err := row.Scan(&r.ID, &r.Kind, &r.DeviceID, &r.Requester, &r.ContactName, &r.ContactEmail, &r.ContactPhone, &r.Reason, &r.Payload,
		&r.Status, &c, &e, &r.DecidedBy, &d, &r.Comment, &r.SessionID)
	r.CreatedAt, r.ExpiresAt, r.DecidedAt = fromMS(c), fromMS(e), fromMS(d)
	return r, err
}

// CreateRequest adds a pending request.
func (s *Store) CreateRequest(ctx context.Context, r Request) error {
	if r.Payload == "" {
		r.Payload = "{}"
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO requests(`+requestCols+`) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.ID, r.Kind, r.DeviceID, r.Requester, r.ContactName, r.ContactEmail, r.ContactPhone, r.Reason, r.Payload, RequestPending,
		ms(r.CreatedAt), ms(r.ExpiresAt), "", 0, "", "")
	if isUnique(err) {
		return ErrConflict
	}
	return err
}

// Request returns one request.
func (s *Store) Request(ctx context.Context, id string) (Request, error) {
	r, err := scanRequest(s.db.QueryRowContext(ctx, `SELECT `+requestCols+` FROM requests WHERE id = ?`, id))
	return r, notFound(err, "request")
}

// Requests lists requests with the given status ("" = any), newest first, at most limit (default 200).
func (s *Store) Requests(ctx context.Context, status string, limit int) ([]Request, error) {
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	return orEmpty(queryAll(ctx, s.db, scanRequest, `SELECT `+requestCols+` FROM requests WHERE (? = '' OR status = ?) ORDER BY created_at DESC, id LIMIT ?`,
		status, status, limit))
}

// ErrNotPending means the request was already decided or expired.
var ErrNotPending = errors.New("request is no longer pending")

// DecideRequest moves a pending request to status, once: a request already
// decided (by someone else, or by expiry) is ErrNotPending.
func (s *Store) DecideRequest(ctx context.Context, id, status, by, comment, sessionID string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE requests SET status = ?, decided_by = ?, decided_at = ?, comment = ?, session_id = ?
		WHERE id = ? AND status = 'pending'`, status, by, ms(at), comment, sessionID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.Request(ctx, id); err != nil {
			return err
		}
		return ErrNotPending
	}
	return nil
}

// DueRequests lists pending requests whose expiry is at or before now.
func (s *Store) DueRequests(ctx context.Context, now time.Time) ([]Request, error) {
	return queryAll(ctx, s.db, scanRequest, `SELECT `+requestCols+` FROM requests WHERE status = 'pending' AND expires_at <= ?`, ms(now))
}
