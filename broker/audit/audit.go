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
	AuditRecords(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error)
}

// Log appends events to the chain.
type Log struct {
	chain chain
	clock clock.Clock
}

// New returns a Log writing to c.
func New(c chain, clk clock.Clock) *Log {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Log{chain: c, clock: clk}
}

// Append records e. An error means the event was not recorded.
func (l *Log) Append(ctx context.Context, e Event) (store.AuditRecord, error) {
	if e.Action == "" || e.Actor == "" {
		return store.AuditRecord{}, errors.New("audit: actor and action required")
	}
	details := "{}"
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details) // map keys are sorted: canonical
		if err != nil {
			return store.AuditRecord{}, fmt.Errorf("audit: details: %w", err)
		}
		details = string(b)
	}
	now := l.clock.Now().UTC().Truncate(1e6) // stored in ms
	rec, err := l.chain.AppendAudit(ctx, func(seq int64, prev string) store.AuditRecord {
		r := store.AuditRecord{Seq: seq, Time: now, Actor: e.Actor, Action: e.Action, Target: e.Target,
			SourceIP: e.SourceIP, Details: details, PrevHash: prev}
		r.Hash = Hash(r)
		return r
	})
	if err != nil {
		return rec, fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	return rec, nil
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

// Verify walks the whole chain and reports the first record that does not
// match its hash or its predecessor. It returns the number of records checked.
func (l *Log) Verify(ctx context.Context) (int64, error) {
	var after int64
	prev := ""
	var n int64
	for {
		recs, err := l.chain.AuditRecords(ctx, store.AuditFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			return n, fmt.Errorf("audit: verify: %w", err)
		}
		for _, r := range recs {
			if r.Seq != after+1 {
				return n, fmt.Errorf("%w: record %d missing (found %d)", ErrBroken, after+1, r.Seq)
			}
			if r.PrevHash != prev {
				return n, fmt.Errorf("%w: record %d does not follow record %d", ErrBroken, r.Seq, after)
			}
			if Hash(r) != r.Hash {
				return n, fmt.Errorf("%w: record %d was altered", ErrBroken, r.Seq)
			}
			prev, after = r.Hash, r.Seq
			n++
		}
		if len(recs) < 1000 {
			return n, nil
		}
	}
}
