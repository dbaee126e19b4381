package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"porthole/broker/store"
)

// Filter selects records for the audit page, the API and exports. Zero
// fields match everything.
type Filter struct {
	Since, Until time.Time // Since inclusive, Until exclusive
	// Actor matches the actor exactly; a bare name ("alice") also matches "user:alice".
	Actor  string
	Action string // exact; a trailing "*" matches a prefix ("session.*")
	// Device matches records whose target is the device or whose details
	// name it as device_id (session events, consent answers…).
	Device    string
	Target    string
	AfterSeq  int64 // records with seq > AfterSeq
	BeforeSeq int64 // records with seq < BeforeSeq (0: no bound)
	// Limit bounds Query (default 100, max 1000); Each ignores it.
	Limit int
	// Newest first (Query only; Each always streams oldest first).
	Descending bool
}

// Match reports whether r passes every field of f except paging.
func (f Filter) Match(r store.AuditRecord) bool {
	if !f.Since.IsZero() && r.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !r.Time.Before(f.Until) {
		return false
	}
	if f.Actor != "" && r.Actor != f.Actor && (strings.Contains(f.Actor, ":") || r.Actor != "user:"+f.Actor) {
		return false
	}
	if p, ok := strings.CutSuffix(f.Action, "*"); ok {
		if !strings.HasPrefix(r.Action, p) {
			return false
		}
	} else if f.Action != "" && r.Action != f.Action {
		return false
	}
	if f.Target != "" && r.Target != f.Target {
		return false
	}
	if f.Device != "" && r.Target != f.Device {
		if !strings.Contains(r.Details, f.Device) {
			return false
		}
		var d struct {
			DeviceID string `json:"device_id"`
		}
		if json.Unmarshal([]byte(r.Details), &d) != nil || d.DeviceID != f.Device {
			return false
		}
	}
	return true
}

// scanPage is how many rows Each reads from the store at a time.
const scanPage = 1000

// Each streams every record matching f, oldest first, to fn, reading the
// store page by page so memory stays flat however long the log is. fn's
// error stops the walk and is returned.
//
// Filtering happens here rather than in SQL (only exact actor and action
// are pushed down), which keeps the store's query small; it reads the
// table once per call, fine for the sizes an audit page and an export see.
func (l *Log) Each(ctx context.Context, f Filter, fn func(store.AuditRecord) error) error {
	sf := store.AuditFilter{AfterSeq: f.AfterSeq, Limit: scanPage}
	if strings.Contains(f.Actor, ":") {
		sf.Actor = f.Actor
	}
	if f.Action != "" && !strings.HasSuffix(f.Action, "*") {
		sf.Action = f.Action
	}
	if f.Target != "" {
		sf.Target = f.Target
	}
	for {
		recs, err := l.chain.AuditRecords(ctx, sf)
		if err != nil {
			return fmt.Errorf("audit: read: %w", err)
		}
		for _, r := range recs {
			if f.BeforeSeq > 0 && r.Seq >= f.BeforeSeq {
				return nil
			}
			if f.Match(r) {
				if err := fn(r); err != nil {
					return err
				}
			}
			sf.AfterSeq = r.Seq
		}
		if len(recs) < scanPage {
			return nil
		}
	}
}

// Query returns one page of records matching f: the first Limit after
// AfterSeq (oldest first), or with Descending the last Limit before
// BeforeSeq (newest first).
func (l *Log) Query(ctx context.Context, f Filter) ([]store.AuditRecord, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	out := make([]store.AuditRecord, 0, f.Limit)
	if !f.Descending {
		err := l.Each(ctx, f, func(r store.AuditRecord) error {
			out = append(out, r)
			if len(out) == f.Limit {
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop {
			return nil, err
		}
		return out, nil
	}
	// Newest first: keep the last Limit matches in a ring.
	ring := make([]store.AuditRecord, f.Limit)
	n := 0
	err := l.Each(ctx, f, func(r store.AuditRecord) error {
		ring[n%f.Limit] = r
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := n - 1; i >= 0 && i >= n-f.Limit; i-- {
		out = append(out, ring[i%f.Limit])
	}
	return out, nil
}

type stopError struct{}

func (stopError) Error() string { return "stop" }

var errStop error = stopError{}
