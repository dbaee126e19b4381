package store

import (
	"context"
	"strings"
	"time"
)

// Recording states.
const (
	RecordingActive      = "recording"   // being written
	RecordingFinished    = "finished"    // closed, digests audited
	RecordingFailed      = "failed"      // stopped early (disk full, write error); what was kept is audited
	RecordingInterrupted = "interrupted" // the broker stopped while writing (crash); digested at the next start
	RecordingDeleted     = "deleted"     // removed by retention
)

// Recording is the catalogue row of one session recording; the files are in
// the recordings directory, addressed by ID.
type Recording struct {
	ID        string // the session's id
	DeviceID  string
	Hostname  string
	Requester string
	State     string
	StartedAt time.Time
	EndedAt   time.Time
	Duration  time.Duration // video, all files
	Size      int64         // bytes, all files
	Files     int           // video files
	Error     string        // why it stopped early, if it did
}

const recordingCols = `id, device_id, hostname, requester, state, started_at, ended_at, duration_ms, size, files, error`

// SaveRecording inserts or updates a recording row.
func (s *Store) SaveRecording(ctx context.Context, r Recording) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO recordings(`+recordingCols+`) VALUES(?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET state=excluded.state, ended_at=excluded.ended_at, duration_ms=excluded.duration_ms,
		  size=excluded.size, files=excluded.files, error=excluded.error`,
		r.ID, r.DeviceID, r.Hostname, r.Requester, r.State, ms(r.StartedAt), ms(r.EndedAt), r.Duration.Milliseconds(), r.Size, r.Files, r.Error)
	return err
}

func scanRecording(row interface{ Scan(...any) error }) (Recording, error) {
	var r Recording
	var st, en, dur int64
	err := row.Scan(&r.ID, &r.DeviceID, &r.Hostname, &r.Requester, &r.State, &st, &en, &dur, &r.Size, &r.Files, &r.Error)
	r.StartedAt, r.EndedAt, r.Duration = fromMS(st), fromMS(en), time.Duration(dur)*time.Millisecond
	return r, err
}

// Recording returns one recording row.
func (s *Store) Recording(ctx context.Context, id string) (Recording, error) {
	r, err := scanRecording(s.db.QueryRowContext(ctx, `SELECT `+recordingCols+` FROM recordings WHERE id = ?`, id))
	return r, notFound(err, "recording")
}

// RecordingFilter selects recordings; zero fields match everything.
type RecordingFilter struct {
	DeviceID  string
	Requester string
	From, To  time.Time // started in [From, To)
	States    []string  // any of these states
	Limit     int       // default 100, max 1000
}

// Recordings returns the newest recordings matching f.
func (s *Store) Recordings(ctx context.Context, f RecordingFilter) ([]Recording, error) {
	q := `SELECT ` + recordingCols + ` FROM recordings WHERE 1=1`
	var args []any
	if f.DeviceID != "" {
		q += ` AND device_id = ?`
		args = append(args, f.DeviceID)
	}
	if f.Requester != "" {
		q += ` AND requester = ?`
		args = append(args, f.Requester)
	}
	if !f.From.IsZero() {
		q += ` AND started_at >= ?`
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND started_at < ?`
		args = append(args, ms(f.To))
	}
	if len(f.States) > 0 {
		q += ` AND state IN (?` + strings.Repeat(",?", len(f.States)-1) + `)`
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q += ` ORDER BY started_at DESC LIMIT ?`
	args = append(args, f.Limit)
	return queryAll(ctx, s.db, scanRecording, q, args...)
}
