package audit

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"porthole/broker/store"
	"porthole/internal/durable"
)

// Anchor keeps the newest record's number and hash outside the database.
// A hash chain alone cannot tell that its newest rows were deleted (what is
// left is a valid, shorter chain); the anchor can, and it catches a
// database restored from an older copy. It is a Sink: give it to New, and
// Verify checks the chain against it.
//
// The file is one line: "v2 SEQ HASH SIG" with the head signature of a
// signed log (ADR 0010), or "SEQ HASH" from an unsigned one (and from
// brokers before audit signing). It is replaced atomically and fsynced
// (file and directory) by a writer goroutine that Publish wakes, so an
// append waits for the database's own sync only; the writer coalesces a
// burst into one write. Verify and Close write what is pending first. The
// anchor can lag the database (a crash between the two), never lead it.
type Anchor struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	pending store.AuditRecord // newest record published; guarded by mu
	last    int64             // highest seq on disk; guarded by mu

	wmu sync.Mutex // serialises writes of the file

	start sync.Once
	stop  sync.Once
	kick  chan struct{} // wakes the writer; capacity 1
	quit  chan struct{} // closed by Close
	done  chan struct{} // closed when the writer has returned
}

// NewAnchor keeps the anchor in the file at path (e.g. DATA_DIR/audit-head).
// Close it when done (the Log's Close does).
func NewAnchor(path string) *Anchor {
	return &Anchor{path: path, log: slog.New(slog.DiscardHandler), kick: make(chan struct{}, 1), quit: make(chan struct{}),
		done: make(chan struct{})}
}

// WithLogger makes the anchor log the writes it could not make. Call it
// before use.
func (a *Anchor) WithLogger(l *slog.Logger) *Anchor {
	a.log = l.With("component", "audit")
	return a
}

// Publish records rec as the newest record, to be written soon. Appends
// can finish out of order; only a newer record replaces the anchor.
func (a *Anchor) Publish(rec store.AuditRecord) {
	a.mu.Lock()
	if rec.Seq > a.pending.Seq {
		a.pending = rec
	}
	a.mu.Unlock()
	a.start.Do(func() { go a.run() })
	select {
	case a.kick <- struct{}{}:
	default: // the writer is awake and will see it
	}
}

func (a *Anchor) run() {
	defer close(a.done)
	for {
		select {
		case <-a.kick:
			a.Flush()
		case <-a.quit:
			a.Flush()
			return
		}
	}
}

// Flush writes the newest published record now, if it is not on disk yet.
func (a *Anchor) Flush() {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	a.mu.Lock()
	rec, last := a.pending, a.last
	a.mu.Unlock()
	if rec.Seq <= last {
		return
	}
	line := fmt.Sprintf("%d %s\n", rec.Seq, rec.Hash)
	if len(rec.HeadSig) > 0 {
		line = fmt.Sprintf("v2 %d %s %s\n", rec.Seq, rec.Hash, base64.StdEncoding.EncodeToString(rec.HeadSig))
	}
	if err := durable.WriteFile(a.path, []byte(line), 0o600); err != nil {
		// Verify then reports a stale anchor (the chain goes on past it),
		// never silently a good one.
		a.log.Error("audit head anchor not written", "seq", rec.Seq, "err", err)
		return
	}
	a.mu.Lock()
	a.last = rec.Seq
	a.mu.Unlock()
}

// Close writes what is pending and stops the writer. It is idempotent.
func (a *Anchor) Close() {
	a.stop.Do(func() {
		close(a.quit)
		started := true
		a.start.Do(func() { started = false })
		if started {
			<-a.done
		}
		a.Flush()
	})
}

// anchorState is what the anchor file says; ok is false when none was
// written yet (a new or upgraded data dir); sig is nil for an unsigned one.
type anchorState struct {
	ok   bool
	seq  int64
	hash string
	sig  []byte
}

func (a *Anchor) read() (anchorState, error) {
	b, err := os.ReadFile(a.path)
	if errors.Is(err, os.ErrNotExist) {
		return anchorState{}, nil
	}
	if err != nil {
		return anchorState{}, err
	}
	bad := func(err error) (anchorState, error) {
		return anchorState{}, fmt.Errorf("audit anchor %s: %w", filepath.Base(a.path), err)
	}
	st := anchorState{ok: true}
	f := strings.Fields(string(b))
	switch {
	case len(f) == 4 && f[0] == "v2":
		if st.sig, err = base64.StdEncoding.DecodeString(f[3]); err != nil {
			return bad(err)
		}
		f = f[1:3]
	case len(f) != 2:
		return bad(errors.New("malformed"))
	}
	if _, err := fmt.Sscanf(f[0], "%d", &st.seq); err != nil {
		return bad(err)
	}
	st.hash = f[1]
	return st, nil
}
