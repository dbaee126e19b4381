package requests

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"porthole/broker/store"
	"porthole/internal/wire"
)

// OutcomeWindow bounds what Resend sends: outcomes decided (or expired)
// longer ago than this are no longer news to the end user.
const OutcomeWindow = 7 * 24 * time.Hour

// DeliveredAction is the audit action of an outcome the endpoint
// acknowledged: the end user was told.
const DeliveredAction = "request.outcome_delivered"

// AgentReferrer is implemented by Deciders whose requests carry the
// agent's own id of the request (what its outcomes quote, and what
// wire.RequestOutcomeAck names).
type AgentReferrer interface {
	AgentRef(r store.Request) string
}

// agentRef is the agent's id of r, "" when r has none.
func (m *Manager) agentRef(r store.Request) string {
	if ar, ok := m.deciders[r.Kind].(AgentReferrer); ok {
		return ar.AgentRef(r)
	}
	if r.Kind != KindSupport {
		return ""
	}
	var p supportPayload
	_ = json.Unmarshal([]byte(r.Payload), &p)
	return p.AgentRequestID
}

// Resend sends a device that came online the denials and expiries of its
// requests it has not acknowledged, oldest first, within OutcomeWindow.
// Approvals are not resent: a support approval starts a session that
// needs the device then, and an elevation approval is a code for that
// moment; both fail at approval time when the device is offline.
func (m *Manager) Resend(ctx context.Context, deviceID string) {
	rs, err := m.cfg.Store.UnackedOutcomes(ctx, deviceID, m.cfg.Clock.Now().Add(-OutcomeWindow))
	if err != nil {
		m.log.Warn("request outcomes not resent", "device_id", deviceID, "err", err)
		return
	}
	for _, r := range rs {
		switch r.Status {
		case store.RequestDenied:
			m.tell(r, wire.RequestDenied, r.Comment, r.DecidedBy)
		case store.RequestExpired:
			m.tell(r, wire.RequestExpired, expiredText, "")
		default:
			continue
		}
		m.log.Info("request outcome resent", "request_id", r.ID, "device_id", deviceID, "status", r.Status)
	}
}

// Acked records that deviceID's agent told its end user the outcome of the
// request it calls agentID, and audits request.outcome_delivered once,
// with how long after the decision. An acknowledgement of an outcome
// already acknowledged, older than OutcomeWindow or of another device's
// request changes nothing.
func (m *Manager) Acked(ctx context.Context, deviceID, agentID string) error {
	now := m.cfg.Clock.Now()
	rs, err := m.cfg.Store.UnackedOutcomes(ctx, deviceID, now.Add(-OutcomeWindow))
	if err != nil {
		return err
	}
	for _, r := range rs {
		if m.agentRef(r) != agentID {
			continue
		}
		first, err := m.cfg.Store.AckOutcome(ctx, r.ID, now)
		if err != nil || !first {
			return err
		}
		late := max(0, now.Sub(r.DecidedAt))
		if err := m.record(ctx, "device:"+deviceID, "", DeliveredAction, r.ID, map[string]any{"kind": r.Kind, "device_id": deviceID,
			"status": r.Status, "decided_at": r.DecidedAt, "late_seconds": int(late / time.Second)}); err != nil {
			// Not audited, so not acknowledged: the next resend tries again.
			return errors.Join(err, m.cfg.Store.UnackOutcome(ctx, r.ID))
		}
		m.log.Info("request outcome delivered", "request_id", r.ID, "device_id", deviceID, "status", r.Status, "late", late)
		return nil
	}
	return nil
}
