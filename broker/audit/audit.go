// Package audit writes the broker's tamper-evident audit log.
//
// Every privileged action and session transition becomes an Event. Events are
// chained: each stored record carries the SHA-256 of the previous record, so
// editing, inserting or deleting a row breaks Verify. A privileged action
// whose audit write fails must not happen (callers fail closed).
package audit

import (
	"context"
	"crypto/ed25519"
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

// Chain is the part of the store the log needs (the store itself, or a
// wrapper that measures it).
type Chain interface {
	AppendAudit(ctx context.Context, seal func(seq int64, prevHash string) store.AuditRecord) (store.AuditRecord, error)
	AppendAgentEvent(ctx context.Context, deviceID, eventID string, seal func(seq int64, prevHash string) store.AuditRecord) (store.AuditRecord, bool, error)
	AuditRecords(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error)
	AuditHead(ctx context.Context) (store.AuditHead, bool, error)
	SetAuditHead(ctx context.Context, h store.AuditHead) error
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
	chain  Chain
	clock  clock.Clock
	sinks  []Sink  // set before use, read-only afterwards
	anchor *Anchor // among sinks, if given; Verify checks against it
	// signer signs the head of every append and exports; pub is the key
	// Verify checks the head with. Set before use (WithSigner,
	// WithPublicKey), read-only afterwards; nil: an unsigned log.
	signer *Signer
	pub    ed25519.PublicKey
}

// WithSigner makes l sign the chain's head on every append (and exports),
// and verify it. Call it before l is used.
func (l *Log) WithSigner(s *Signer) *Log {
	l.signer, l.pub = s, s.Public()
	return l
}

// WithPublicKey makes l verify the chain's signed head against pub
// without being able to sign (offline verification). Call it before use.
func (l *Log) WithPublicKey(pub ed25519.PublicKey) *Log {
	l.pub = pub
	return l
}

// New returns a Log writing to c. Sinks, if any, receive each record after
// a successful append.
func New(c Chain, clk clock.Clock, sinks ...Sink) *Log {
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
		if l.signer != nil {
			r.HeadSig = l.signer.signHead(r.Seq, r.Hash)
		}
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

// ErrUnsigned reports a non-empty chain without a signed head, checked
// with a signing key: a log written before audit signing (adopt it, see
// Adopt), or one whose signed head was removed. Verify returns it only
// when everything else checked out.
var ErrUnsigned = errors.New("audit: the log has no signed head")

// Verify walks the whole chain and reports the first record that does not
// match its hash or its predecessor (a *BrokenError). It returns the number
// of records checked.
//
// With an Anchor it also checks that the chain still reaches the newest
// record the broker wrote, unchanged: deleting the newest rows is detected.
// With a public key (WithSigner, WithPublicKey) it checks that the chain
// ends exactly at the signed head and that the head, and the anchor, are
// signed by that key: a chain rewritten with recomputed hashes, or cut
// short, does not verify without the private key.
func (l *Log) Verify(ctx context.Context) (int64, error) {
	var v Verifier
	var after int64
	var anc anchorState
	if l.anchor != nil {
		l.anchor.Flush()
		var err error
		if anc, err = l.anchor.read(); err != nil {
			return 0, fmt.Errorf("audit: verify: %w", err)
		}
	}
	seenHash := ""
	for {
		recs, err := l.chain.AuditRecords(ctx, store.AuditFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			return v.Checked(), fmt.Errorf("audit: verify: %w", err)
		}
		for _, r := range recs {
			if err := v.Add(r); err != nil {
				return v.Checked(), err
			}
			if r.Seq == anc.seq {
				seenHash = r.Hash
			}
			after = r.Seq
		}
		if len(recs) < 1000 {
			break
		}
	}
	n := v.Checked()
	switch {
	case !anc.ok:
	case n < anc.seq:
		return n, &BrokenError{Seq: n + 1, Reason: fmt.Sprintf("missing: the log ends at record %d but record %d was written", n, anc.seq)}
	case seenHash != anc.hash:
		return n, &BrokenError{Seq: anc.seq, Reason: "differs from the record the broker wrote"}
	}
	if l.pub == nil {
		return n, nil
	}
	if err := l.verifyHead(ctx, n, v.prev); err != nil {
		return n, err
	}
	// A signed chain's anchor is signed too (an unsigned one is from before
	// audit signing, and is replaced at the next append).
	if anc.sig != nil && !verifyHead(l.pub, anc.seq, anc.hash, anc.sig) {
		return n, &BrokenError{Seq: anc.seq, Reason: "the head anchor file is not signed by this broker's audit key"}
	}
	return n, nil
}

// verifyHead checks the signed head against a chain of n records ending
// in lastHash.
func (l *Log) verifyHead(ctx context.Context, n int64, lastHash string) error {
	h, ok, err := l.chain.AuditHead(ctx)
	if err != nil {
		return fmt.Errorf("audit: verify: %w", err)
	}
	switch {
	case !ok && n == 0:
		return nil
	case !ok:
		return ErrUnsigned
	case !verifyHead(l.pub, h.Seq, h.Hash, h.Sig):
		return &BrokenError{Seq: h.Seq, Reason: "the signed head is not signed by this broker's audit key (rewritten?)"}
	case h.Seq > n:
		return &BrokenError{Seq: n + 1, Reason: fmt.Sprintf("missing: the log ends at record %d but the signed head is record %d", n, h.Seq)}
	case h.Seq < n:
		return &BrokenError{Seq: h.Seq + 1, Reason: fmt.Sprintf("records after the signed head (record %d) are not signed: added behind the broker's back", h.Seq)}
	case h.Hash != lastHash:
		return &BrokenError{Seq: h.Seq, Reason: "differs from the signed head: rewritten"}
	}
	return nil
}

// Adopt signs the head of an existing chain that has none (ErrUnsigned):
// a log written before audit signing, the first time a signing key is
// used. It verifies the chain first, then records the adoption as an
// audit event (actor system, with why and the key's fingerprint), which
// is itself signed. It returns the number of records adopted.
func (l *Log) Adopt(ctx context.Context, why string) (int64, error) {
	if l.signer == nil {
		return 0, errors.New("audit: adopt needs a signing key")
	}
	n, err := l.Verify(ctx)
	if err != nil && !errors.Is(err, ErrUnsigned) {
		return n, err
	}
	if err == nil {
		return n, nil // signed already
	}
	recs, err := l.chain.AuditRecords(ctx, store.AuditFilter{AfterSeq: n - 1, Limit: 1})
	if err != nil || len(recs) != 1 {
		return n, fmt.Errorf("audit: adopt: read record %d: %v", n, err)
	}
	last := recs[0]
	if err := l.chain.SetAuditHead(ctx, store.AuditHead{Seq: last.Seq, Hash: last.Hash, Sig: l.signer.signHead(last.Seq, last.Hash)}); err != nil {
		return n, fmt.Errorf("audit: adopt: %w", err)
	}
	if _, err := l.Append(ctx, Event{Actor: "system", Action: "audit.chain_adopted", Details: map[string]any{
		"records": n, "head_hash": last.Hash, "key_fingerprint": Fingerprint(l.pub), "why": why}}); err != nil {
		return n, err
	}
	return n, nil
}

// Close writes the head anchor's pending update (the checkpoint at
// shutdown) and stops its writer. Appends after Close still reach the
// database but not the anchor.
func (l *Log) Close() {
	if l.anchor != nil {
		l.anchor.Close()
	}
}

// PublicKey is the key the log's heads and exports are checked with (nil
// for an unsigned log).
func (l *Log) PublicKey() ed25519.PublicKey { return l.pub }
