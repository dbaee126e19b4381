// Package audit writes the broker's tamper-evident audit log.
//
// Every privileged action and session transition becomes an Event. Events are
// chained: each stored record carries the SHA-256 of the previous record, so
// editing, inserting or deleting a row breaks Verify. A privileged action
// whose audit write fails must not happen (callers fail closed).
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"porthole/broker/store"
	"porthole/internal/clock"
)

// Event is one audited action.
type Event struct {
	Actor    string         // "user:NAME", "device:ID", "system"
	Action   string         // e.g. "login.ok", "device.enrolled"
	Target   string         // what was acted on, by id
	SourceIP string         //
	Details  map[string]any // small, no secrets
}

// chain is the part of the store the log needs.
type chain interface {
	AppendAudit(ctx context.Context, seal func(seq int64, prevHash string) store.AuditRecord) (store.AuditRecord, error)
	AppendAgentEvent(ctx context.Context, deviceID, eventID string, seal func(seq int64, prevHash string) store.AuditRecord) (store.AuditRecord, bool, error)
	AuditRecords(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error)
}

// Sink receives every record after it was appended to the chain (for
// example auditstream's syslog and webhook forwarders, so events survive the
// loss of the broker's disk). Publish must not block: it runs inside the
// audited action.
type Sink interface {
	Publish(rec store.AuditRecord)
}

// Log appends events to the chain.
type Log struct {
	chain  chain
	clock  clock.Clock
	sinks  []Sink  // set before use, read-only afterwards
	anchor *Anchor // among sinks, if given; Verify checks against it
}

// New returns a Log writing to c. Sinks, if any, receive each record after
// a successful append.
func New(c chain, clk clock.Clock, sinks ...Sink) *Log {
	if clk == nil {
		clk = clock.Real{}
	}
	l := &Log{chain: c, clock: clk, sinks: sinks}
	for _, s := range sinks {
		if a, ok := s.(*Anchor); ok {
			l.anchor = a
		}
	}
	return l
}

// Append records e. An error means the event was not recorded.
func (l *Log) Append(ctx context.Context, e Event) (store.AuditRecord, error) {
	seal, err := l.sealer(e)
	if err != nil {
		return store.AuditRecord{}, err
	}
	rec, err := l.chain.AppendAudit(ctx, seal)
	if err != nil {
		return rec, fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	l.publish(rec)
	return rec, nil
}

// AppendAgentEvent records e for the outbox event (deviceID, eventID)
// unless it was recorded before; dup reports the repeat (an agent resends
// events whose acknowledgement it missed).
func (l *Log) AppendAgentEvent(ctx context.Context, deviceID, eventID string, e Event) (rec store.AuditRecord, dup bool, err error) {
	seal, err := l.sealer(e)
	if err != nil {
		return store.AuditRecord{}, false, err
	}
	rec, dup, err = l.chain.AppendAgentEvent(ctx, deviceID, eventID, seal)
	if err != nil {
		return rec, false, fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	if !dup {
		l.publish(rec)
	}
	return rec, dup, nil
}

// sealer checks e and returns the function that chains it.
func (l *Log) sealer(e Event) (func(seq int64, prev string) store.AuditRecord, error) {
	if e.Action == "" || e.Actor == "" {
		return nil, errors.New("audit: actor and action required")
	}
	details := "{}"
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details) // map keys are sorted: canonical
		if err != nil {
			return nil, fmt.Errorf("audit: details: %w", err)
		}
		details = string(b)
	}
	now := l.clock.Now().UTC().Truncate(1e6) // stored in ms
	return func(seq int64, prev string) store.AuditRecord {
		r := store.AuditRecord{Seq: seq, Time: now, Actor: e.Actor, Action: e.Action, Target: e.Target,
			SourceIP: e.SourceIP, Details: details, PrevHash: prev}
		r.Hash = Hash(r)
		return r
	}, nil
}

func (l *Log) publish(rec store.AuditRecord) {
	for _, s := range l.sinks {
		s.Publish(rec)
	}
}

// Hash is the chain hash of r: SHA-256 over the previous hash and every
// field, each length-prefixed so no two rows serialise the same.
func Hash(r store.AuditRecord) string {
	h := sha256.New()
	for _, f := range []string{r.PrevHash, strconv.FormatInt(r.Seq, 10), strconv.FormatInt(r.Time.UnixMilli(), 10),
		r.Actor, r.Action, r.Target, r.SourceIP, r.Details} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ErrBroken reports a chain that fails verification.
var ErrBroken = errors.New("audit: chain broken")

// BrokenError names the first record that fails verification. It matches
// ErrBroken with errors.Is.
type BrokenError struct {
	Seq    int64  // the first bad record (for a missing record: the number expected)
	Reason string // "altered", "missing", "out of order"
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit: chain broken at record %d: %s", e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrBroken) hold.
func (e *BrokenError) Is(target error) bool { return target == ErrBroken }

// Verifier checks records one at a time, in order from the first, so a
// whole log can be verified as it streams (from the store or from an
// export) in constant memory.
type Verifier struct {
	prev string
	seq  int64
}

// Add checks the next record. The first error names the first bad record;
// after an error the Verifier's state is unchanged.
func (v *Verifier) Add(r store.AuditRecord) error {
	switch {
	case r.Seq > v.seq+1:
		return &BrokenError{Seq: v.seq + 1, Reason: fmt.Sprintf("missing (next record found is %d)", r.Seq)}
	case r.Seq != v.seq+1:
		return &BrokenError{Seq: r.Seq, Reason: fmt.Sprintf("out of order (expected record %d)", v.seq+1)}
	case r.PrevHash != v.prev:
		return &BrokenError{Seq: r.Seq, Reason: fmt.Sprintf("does not follow record %d", v.seq)}
	case Hash(r) != r.Hash:
		return &BrokenError{Seq: r.Seq, Reason: "altered"}
	}
	v.prev, v.seq = r.Hash, r.Seq
	return nil
}

// Checked is the number of records verified so far.
func (v *Verifier) Checked() int64 { return v.seq }

// Verify walks the whole chain and reports the first record that does not
// match its hash or its predecessor (a *BrokenError). It returns the number
// of records checked.
//
// With an Anchor it also checks that the chain still reaches the newest
// record the broker wrote, unchanged: deleting the newest rows is detected.
func (l *Log) Verify(ctx context.Context) (int64, error) {
	var v Verifier
	var after int64
	var anchorSeq int64
	var anchorHash, seenHash string
	anchored := false
	if l.anchor != nil {
		var err error
		if anchorSeq, anchorHash, anchored, err = l.anchor.read(); err != nil {
			return 0, fmt.Errorf("audit: verify: %w", err)
		}
	}
	for {
		recs, err := l.chain.AuditRecords(ctx, store.AuditFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			return v.Checked(), fmt.Errorf("audit: verify: %w", err)
		}
		for _, r := range recs {
			if err := v.Add(r); err != nil {
				return v.Checked(), err
			}
			if r.Seq == anchorSeq {
				seenHash = r.Hash
			}
			after = r.Seq
		}
		if len(recs) < 1000 {
			break
		}
	}
	switch {
	case !anchored:
	case v.Checked() < anchorSeq:
		return v.Checked(), &BrokenError{Seq: v.Checked() + 1, Reason: fmt.Sprintf("missing: the log ends at record %d but record %d was written", v.Checked(), anchorSeq)}
	case seenHash != anchorHash:
		return v.Checked(), &BrokenError{Seq: anchorSeq, Reason: "differs from the record the broker wrote"}
	}
	return v.Checked(), nil
}
