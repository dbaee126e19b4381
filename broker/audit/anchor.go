package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"porthole/broker/store"
)

// Anchor keeps the newest record's number and hash outside the database.
// A hash chain alone cannot tell that its newest rows were deleted (what is
// left is a valid, shorter chain); the anchor can. It is a Sink: give it to
// New, and Verify checks the chain against it.
type Anchor struct {
	path string

	mu   sync.Mutex
	last int64 // highest seq written; guarded by mu
}

// NewAnchor keeps the anchor in the file at path (e.g. DATA_DIR/audit-head).
func NewAnchor(path string) *Anchor { return &Anchor{path: path} }

// Publish records rec as the newest record. Appends can finish out of
// order; only a newer record replaces the anchor.
func (a *Anchor) Publish(rec store.AuditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if rec.Seq <= a.last {
		return
	}
	tmp := a.path + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %s\n", rec.Seq, rec.Hash), 0o600); err != nil {
		return // Verify reports a stale anchor as missing records, never silently
	}
	if os.Rename(tmp, a.path) == nil {
		a.last = rec.Seq
	}
}

// read returns the anchored record; ok is false when none was written yet
// (a new or upgraded data dir).
func (a *Anchor) read() (seq int64, hash string, ok bool, err error) {
	b, err := os.ReadFile(a.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	if _, err := fmt.Sscanf(string(b), "%d %s", &seq, &hash); err != nil {
		return 0, "", false, fmt.Errorf("audit anchor %s: %w", filepath.Base(a.path), err)
	}
	return seq, hash, true, nil
}
