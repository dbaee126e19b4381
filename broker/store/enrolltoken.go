package store

import "context"

// EnrollToken returns one enrollment token by id (ErrNotFound if none), so
// a revocation of a token that does not exist is answered without an
// audit record.
func (s *Store) EnrollToken(ctx context.Context, id string) (EnrollToken, error) {
	t, err := scanEnroll(s.db.QueryRowContext(ctx, `SELECT `+enrollCols+` FROM enroll_tokens WHERE id = ?`, id))
	return t, notFound(err, "enrollment token")
}
