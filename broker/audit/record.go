package audit

import (
	"encoding/json"
	"time"

	"porthole/broker/store"
)

// Record is an audit record as the API, exports and stream sinks carry it:
// every stored field, so an export can be verified again (see Verifier).
// Details is the stored JSON text byte for byte; it is part of the hash.
type Record struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Target   string          `json:"target"`
	SourceIP string          `json:"source_ip"`
	Details  json.RawMessage `json:"details"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// ToRecord converts a stored record.
func ToRecord(r store.AuditRecord) Record {
	d := r.Details
	if !json.Valid([]byte(d)) { // only a tampered row; keep it visible as a string
		b, _ := json.Marshal(d)
		d = string(b)
	}
	return Record{Seq: r.Seq, Time: r.Time.UTC(), Actor: r.Actor, Action: r.Action, Target: r.Target, SourceIP: r.SourceIP,
		Details: json.RawMessage(d), PrevHash: r.PrevHash, Hash: r.Hash}
}

// Stored converts back, for verification of an export.
func (r Record) Stored() store.AuditRecord {
	return store.AuditRecord{Seq: r.Seq, Time: r.Time, Actor: r.Actor, Action: r.Action, Target: r.Target, SourceIP: r.SourceIP,
		Details: string(r.Details), PrevHash: r.PrevHash, Hash: r.Hash}
}
