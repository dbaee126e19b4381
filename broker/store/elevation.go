package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// ElevationSession is one grant of temporary admin rights on a device, as
// the agent reported it.
type ElevationSession struct {
	DeviceID  string
	SessionID string
	User      string
	GrantedAt time.Time
	Until     time.Time
	EndedAt   time.Time // zero while running
	EndReason string    // the agent event kind that ended it
	// SelfApproved grants had no code; Note is the user's reason.
	SelfApproved bool
	Note         string
}

// ElevationProcess is one program that ran elevated during a session.
type ElevationProcess struct {
	DeviceID  string
	EventID   string // the agent event that first reported it
	SessionID string
	PID, PPID int
	Exe       string
	Args      []string
	StartedAt time.Time // the kernel's start time of the process
	SeenAt    time.Time // when the agent saw this program run
	ExitedAt  time.Time // zero while running (or not yet reported)
}

// SaveElevationGrant records a grant; a repeated or extending grant of the
// same session keeps the earliest start and the latest end.
func (s *Store) SaveElevationGrant(ctx context.Context, e ElevationSession) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO elevation_sessions(device_id, session_id, username, granted_at, until, self_approved, note)
		VALUES(?,?,?,?,?,?,?)
		ON CONFLICT(device_id, session_id) DO UPDATE SET granted_at = MIN(granted_at, excluded.granted_at),
		  until = MAX(until, excluded.until)`,
		e.DeviceID, e.SessionID, e.User, ms(e.GrantedAt), ms(e.Until), e.SelfApproved, e.Note)
	return err
}

// EndElevation records the end of a session (first report wins). A
// session the broker never heard of is created ended, so nothing the agent
// reports is lost.
func (s *Store) EndElevation(ctx context.Context, e ElevationSession) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO elevation_sessions(device_id, session_id, username, granted_at, until)
			VALUES(?,?,?,?,?)`, e.DeviceID, e.SessionID, e.User, ms(e.GrantedAt), ms(e.Until)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE elevation_sessions SET ended_at = ?, end_reason = ?
			WHERE device_id = ? AND session_id = ? AND ended_at = 0`, ms(e.EndedAt), e.EndReason, e.DeviceID, e.SessionID)
		return err
	})
}

// AddElevationProcess records a program run elevated, once per EventID.
func (s *Store) AddElevationProcess(ctx context.Context, p ElevationProcess) error {
	args, err := json.Marshal(p.Args)
	if err != nil {
		return fmt.Errorf("process args: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT OR IGNORE INTO elevation_processes(device_id, event_id, session_id, pid, ppid, exe, args, started_at, seen_at)
		VALUES(?,?,?,?,?,?,?,?,?)`,
		p.DeviceID, p.EventID, p.SessionID, p.PID, p.PPID, p.Exe, string(args), ms(p.StartedAt), ms(p.SeenAt))
	return err
}

// EndElevationProcess records the exit of the process (pid, start time) of a
// session: every program it ran that is not marked exited yet.
func (s *Store) EndElevationProcess(ctx context.Context, deviceID, sessionID string, pid int, startedAt, exitedAt time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE elevation_processes SET exited_at = ?
		WHERE device_id = ? AND session_id = ? AND pid = ? AND started_at = ? AND exited_at = 0`,
		ms(exitedAt), deviceID, sessionID, pid, ms(startedAt))
	return err
}

// ElevationSessions lists a device's newest sessions first (at most limit).
func (s *Store) ElevationSessions(ctx context.Context, deviceID string, limit int) ([]ElevationSession, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT device_id, session_id, username, granted_at, until, ended_at, end_reason, self_approved, note
		FROM elevation_sessions WHERE device_id = ? ORDER BY granted_at DESC, session_id LIMIT ?`, deviceID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ElevationSession
	for rows.Next() {
		var e ElevationSession
		var g, u, en int64
		if err := rows.Scan(&e.DeviceID, &e.SessionID, &e.User, &g, &u, &en, &e.EndReason, &e.SelfApproved, &e.Note); err != nil {
			return nil, err
		}
		e.GrantedAt, e.Until, e.EndedAt = fromMS(g), fromMS(u), fromMS(en)
		out = append(out, e)
	}
	return out, rows.Err()
}

// ElevationProcesses lists what ran elevated in a session, in the order the
// agent saw it (at most limit).
func (s *Store) ElevationProcesses(ctx context.Context, deviceID, sessionID string, limit int) ([]ElevationProcess, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT device_id, event_id, session_id, pid, ppid, exe, args, started_at, seen_at, exited_at
		FROM elevation_processes WHERE device_id = ? AND session_id = ? ORDER BY seen_at, rowid LIMIT ?`, deviceID, sessionID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ElevationProcess
	for rows.Next() {
		var p ElevationProcess
		var args string
		var st, seen, ex int64
		if err := rows.Scan(&p.DeviceID, &p.EventID, &p.SessionID, &p.PID, &p.PPID, &p.Exe, &args, &st, &seen, &ex); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(args), &p.Args); err != nil {
			return nil, fmt.Errorf("elevation process %s args: %w", p.EventID, err)
		}
		p.StartedAt, p.SeenAt, p.ExitedAt = fromMS(st), fromMS(seen), fromMS(ex)
		out = append(out, p)
	}
	return out, rows.Err()
}
