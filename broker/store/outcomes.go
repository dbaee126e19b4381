package store

import (
	"context"
	"time"
)

// UnackedOutcomes lists a device's requests decided at or after since
// (approved, denied or expired; access requests are not told to
// endpoints) whose outcome the endpoint has not acknowledged, oldest
// decision first.
func (s *Store) UnackedOutcomes(ctx context.Context, deviceID string, since time.Time) ([]Request, error) {
	return queryAll(ctx, s.db, scanRequest, `SELECT `+requestCols+` FROM requests
		WHERE device_id = ? AND outcome_acked_at = 0 AND status IN ('approved','denied','expired') AND kind <> 'access'
		AND decided_at >= ? ORDER BY decided_at, id LIMIT 500`, deviceID, ms(since))
}

// AckOutcome records that the endpoint acknowledged request id's outcome
// at at; it reports false when it was already acknowledged (so the
// acknowledgement is audited once).
func (s *Store) AckOutcome(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE requests SET outcome_acked_at = ? WHERE id = ? AND outcome_acked_at = 0`, ms(at), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UnackOutcome undoes AckOutcome when the acknowledgement could not be
// audited, so the next resend and acknowledgement try again.
func (s *Store) UnackOutcome(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE requests SET outcome_acked_at = 0 WHERE id = ?`, id)
	return err
}
