// Package agentevents records what agents report from their durable
// outboxes (break-glass accounts, elevations, elevated processes) in the
// audit log, exactly once per event, and acknowledges them so the agent can
// forget them. Only event areas a broker feature registered are accepted:
// an agent cannot write arbitrary actions into the audit log.
package agentevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"porthole/broker/audit"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// RejectedAction is audited (once per event) for an event of an area no
// feature registered.
const RejectedAction = "agent.event_rejected"

// Appender is the audit log's exactly-once append.
type Appender interface {
	AppendAgentEvent(ctx context.Context, deviceID, eventID string, e audit.Event) (store.AuditRecord, bool, error)
}

// Sender delivers the acknowledgement to the agent.
type Sender interface {
	Send(deviceID string, m wire.Message) error
}

// Hook applies an event's effect on broker state (a break-glass account's
// status, an elevation's process list). It runs for every delivery,
// including repeats, so it must be idempotent; an error withholds the
// acknowledgement and the agent sends the event again.
type Hook func(ctx context.Context, deviceID string, ev wire.AgentEvent) error

// Recorder handles agent_events messages.
type Recorder struct {
	audit Appender
	send  Sender
	log   *slog.Logger

	mu    sync.RWMutex
	hooks map[string]Hook // by area ("breakglass"); a nil Hook only audits
}

// New returns a Recorder with no areas registered.
func New(a Appender, s Sender, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{audit: a, send: s, log: log.With("component", "agentevents"), hooks: map[string]Hook{}}
}

// Register accepts events whose kind starts with area + "." and applies hook
// (nil: audit only).
func (r *Recorder) Register(area string, hook Hook) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooks[area] = hook
}

// Handle takes an agent message; it reports whether it was agent_events.
func (r *Recorder) Handle(deviceID string, m wire.Message) bool {
	evs, ok := m.(*wire.AgentEvents)
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ids []string
	for _, ev := range evs.Events {
		if err := r.record(ctx, deviceID, ev); err != nil {
			// Later events wait too: the agent resends in order.
			r.log.Error("agent event not recorded; the agent will resend it", "device_id", deviceID, "kind", ev.Kind, "event_id", ev.ID, "err", err)
			break
		}
		ids = append(ids, ev.ID)
	}
	if len(ids) == 0 {
		return true
	}
	if err := r.send.Send(deviceID, &wire.AgentEventsAck{IDs: ids}); err != nil {
		r.log.Warn("acknowledging agent events", "device_id", deviceID, "err", err)
	}
	return true
}

// record audits ev once and applies its hook.
func (r *Recorder) record(ctx context.Context, deviceID string, ev wire.AgentEvent) error {
	area, _, _ := strings.Cut(ev.Kind, ".")
	r.mu.RLock()
	hook, known := r.hooks[area]
	r.mu.RUnlock()
	details := map[string]any{}
	if len(ev.Data) > 0 {
		if err := json.Unmarshal(ev.Data, &details); err != nil {
			return fmt.Errorf("event data: %w", err)
		}
	}
	details["event_id"] = ev.ID
	details["agent_time"] = ev.At.UTC().Format(time.RFC3339Nano)
	e := audit.Event{Actor: "device:" + deviceID, Action: ev.Kind, Target: deviceID, Details: details}
	if !known {
		e.Action = RejectedAction
		e.Details = map[string]any{"event_id": ev.ID, "kind": ev.Kind, "reason": "no broker feature accepts this kind"}
	}
	_, dup, err := r.audit.AppendAgentEvent(ctx, deviceID, ev.ID, e)
	if err != nil {
		return err
	}
	if !known {
		if !dup {
			r.log.Warn("agent sent an event of an unknown kind", "device_id", deviceID, "kind", ev.Kind)
		}
		return nil
	}
	if hook != nil {
		if err := hook(ctx, deviceID, ev); err != nil {
			return errors.Join(errors.New("hook"), err)
		}
	}
	return nil
}
