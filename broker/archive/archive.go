// Package archive keeps the broker's finished session recordings honest
// over time: it checks each recording's files against the digests its audit
// entry holds, digests (and audits) recordings a crash left unfinished, and
// deletes recordings older than the retention setting, auditing each
// deletion before it happens. The files themselves are broker/recording's.
package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"porthole/broker/audit"
	"porthole/broker/recording"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock"
)

// Audit actions written here; recording.finished comes from the sessions.
const (
	ActionFinished  = "recording.finished"
	ActionRecovered = "recording.recovered" // a recording a broker crash left open, digested at the next start
	ActionDeleted   = "recording.deleted"
)

// ErrNoAuditEntry means a recording has no audit entry with its digests.
var ErrNoAuditEntry = errors.New("archive: recording has no audit entry with digests")

// DefaultInterval is how often the retention job runs.
const DefaultInterval = time.Hour

type rows interface {
	Recording(ctx context.Context, id string) (store.Recording, error)
	Recordings(ctx context.Context, f store.RecordingFilter) ([]store.Recording, error)
	SaveRecording(ctx context.Context, r store.Recording) error
	AuditRecords(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error)
}

type auditor interface {
	Append(ctx context.Context, e audit.Event) (store.AuditRecord, error)
}

type settingsReader interface {
	Int(ctx context.Context, deviceID, key string) (int, error)
}

type files interface {
	Verify(id string, want []recording.File) error
	Digest(id string) ([]recording.File, error)
	Delete(id string) error
	List() ([]recording.Info, error)
}

var _ files = (*recording.Store)(nil)

// Config wires an Archive.
type Config struct {
	Files    files
	Rows     rows
	Audit    auditor
	Settings settingsReader
	Clock    clock.Clock
	Logger   *slog.Logger
	// Interval is how often Run applies retention (default DefaultInterval).
	Interval time.Duration
}

// Archive verifies, recovers and expires recordings.
type Archive struct {
	cfg Config
	log *slog.Logger
}

// New returns an Archive.
func New(cfg Config) *Archive {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	return &Archive{cfg: cfg, log: cfg.Logger.With("component", "archive")}
}

// Recover runs at broker start, before any session: a recording still
// marked as being written was cut short by a crash. Its files are playable
// up to the crash; their digests go into the audit log so that Verify can
// check them from then on.
func (a *Archive) Recover(ctx context.Context) error {
	open, err := a.cfg.Rows.Recordings(ctx, store.RecordingFilter{States: []string{store.RecordingActive}, Limit: 1000})
	if err != nil {
		return fmt.Errorf("archive: recover: %w", err)
	}
	var errs []error
	for _, r := range open {
		fs, err := a.cfg.Files.Digest(r.ID)
		if err != nil && !errors.Is(err, recording.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		r.State, r.EndedAt, r.Error = store.RecordingInterrupted, a.cfg.Clock.Now(), "the broker stopped while recording"
		r.Size, r.Files = 0, 0
		for _, f := range fs {
			r.Size += f.Size
			if f.Name != recording.SidecarName {
				r.Files++
			}
		}
		if _, err := a.cfg.Audit.Append(ctx, audit.Event{Actor: "system", Action: ActionRecovered, Target: r.ID,
			Details: map[string]any{"recording_id": r.ID, "files": fs, "size": r.Size, "device_id": r.DeviceID}}); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := a.cfg.Rows.SaveRecording(ctx, r); err != nil {
			errs = append(errs, err)
		}
		a.log.Warn("recording_recovered", "recording", r.ID, "files", len(fs))
	}
	return errors.Join(errs...)
}

// auditedFiles returns the files the newest finished or recovered audit
// entry of recording id lists.
func (a *Archive) auditedFiles(ctx context.Context, id string) ([]recording.File, error) {
	var best store.AuditRecord
	for _, action := range []string{ActionFinished, ActionRecovered} {
		recs, err := a.cfg.Rows.AuditRecords(ctx, store.AuditFilter{Action: action, Target: id, Descending: true, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 && recs[0].Seq > best.Seq {
			best = recs[0]
		}
	}
	if best.Seq == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoAuditEntry, id)
	}
	var d struct {
		Files []recording.File `json:"files"`
	}
	if err := json.Unmarshal([]byte(best.Details), &d); err != nil {
		return nil, fmt.Errorf("audit entry %d of %s: %w", best.Seq, id, err)
	}
	return d.Files, nil
}

// Verify checks recording id's files against its audit entry. The error
// wraps recording.ErrMismatch, recording.ErrNotFound or ErrNoAuditEntry.
func (a *Archive) Verify(ctx context.Context, id string) error {
	want, err := a.auditedFiles(ctx, id)
	if err != nil {
		return err
	}
	return a.cfg.Files.Verify(id, want)
}

// Check is the verification of one recording.
type Check struct {
	ID    string `json:"id"`
	State string `json:"state"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// VerifyAll checks every recording that should be on disk (finished,
// failed, interrupted); the ones being written are skipped.
func (a *Archive) VerifyAll(ctx context.Context) ([]Check, error) {
	list, err := a.cfg.Rows.Recordings(ctx, store.RecordingFilter{Limit: 1000,
		States: []string{store.RecordingFinished, store.RecordingFailed, store.RecordingInterrupted}})
	if err != nil {
		return nil, err
	}
	out := make([]Check, 0, len(list))
	for _, r := range list {
		c := Check{ID: r.ID, State: r.State, OK: true}
		if err := a.Verify(ctx, r.ID); err != nil {
			c.OK, c.Error = false, err.Error()
		}
		out = append(out, c)
	}
	return out, nil
}

// Expire deletes every recording older than the retention setting (days,
// global), auditing each deletion first (fail closed: a deletion that
// cannot be audited does not happen). It returns the ids deleted.
func (a *Archive) Expire(ctx context.Context) ([]string, error) {
	days, err := a.cfg.Settings.Int(ctx, "", settings.RecordingRetentionDays)
	if err != nil {
		return nil, err
	}
	cutoff := a.cfg.Clock.Now().Add(-time.Duration(days) * 24 * time.Hour)
	list, err := a.cfg.Files.List()
	if err != nil {
		return nil, err
	}
	var deleted []string
	var errs []error
	for _, in := range list {
		if in.Live || !in.ModTime.Before(cutoff) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		if _, err := a.cfg.Audit.Append(ctx, audit.Event{Actor: "system", Action: ActionDeleted, Target: in.ID,
			Details: map[string]any{"recording_id": in.ID, "reason": "retention", "retention_days": days, "size": in.Size,
				"last_modified": in.ModTime.UTC()}}); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := a.cfg.Files.Delete(in.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, in.ID)
		if r, err := a.cfg.Rows.Recording(ctx, in.ID); err == nil {
			r.State = store.RecordingDeleted
			if err := a.cfg.Rows.SaveRecording(ctx, r); err != nil {
				errs = append(errs, err)
			}
		}
		a.log.Info("recording_deleted", "recording", in.ID, "retention_days", days)
	}
	return deleted, errors.Join(errs...)
}

// Run applies retention now and then every Interval until ctx ends.
func (a *Archive) Run(ctx context.Context) error {
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := a.Expire(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
