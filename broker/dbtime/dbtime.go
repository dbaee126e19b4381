// Package dbtime is how the broker's SQLite database stores a time: Unix
// milliseconds in an INTEGER column, 0 for the zero time (never set). The
// store and the MFA tables (mfasql, which does not depend on the store)
// share the one database, so they share this encoding.
package dbtime

import "time"

// MS encodes t: its Unix milliseconds, or 0 for the zero time.
func MS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMS decodes v: the zero time for 0, otherwise the UTC instant.
func FromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
