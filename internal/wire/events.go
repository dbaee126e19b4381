package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Agent events: what the agent did on its own (a break-glass account
// created or removed, an elevation granted, a process run elevated) reaches
// the broker's audit log through the agent's durable outbox:
//
//	agent  → broker agent_events     {events: [{id, kind, at, data}]}  (in order, at least once)
//	broker → agent  agent_events_ack {ids}                              (recorded or duplicate)
//
// The broker de-duplicates by (device, id), so a batch re-sent after a
// reconnect is recorded once.
func init() {
	register(
		func() Message { return &AgentEvents{} },
		func() Message { return &AgentEventsAck{} },
	)
}

// Bounds of an agent event batch.
const (
	MaxAgentEvents    = 100     // events per batch
	MaxAgentEventData = 8 << 10 // bytes of one event's data
)

// eventKindRE is "area.what": lower-case dotted words.
var eventKindRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,3}$`)

// AgentEvent is one thing the agent did, stamped with the agent's clock.
type AgentEvent struct {
	ID   string          `json:"id"`
	Kind string          `json:"kind"`
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data,omitempty"` // a JSON object
}

// Validate bounds one event; Kind is checked against what the broker
// accepts there, not here.
func (e *AgentEvent) Validate() error {
	if err := validID(e.ID); err != nil {
		return err
	}
	if len(e.Kind) > 64 || !eventKindRE.MatchString(e.Kind) {
		return invalid("event kind %q", truncate(e.Kind, 64))
	}
	if e.At.IsZero() || e.At.Year() < 2000 || e.At.Year() > 9999 {
		return invalid("event time out of range")
	}
	if len(e.Data) > MaxAgentEventData {
		return invalid("event data longer than %d bytes", MaxAgentEventData)
	}
	if len(e.Data) > 0 {
		if d := bytes.TrimSpace(e.Data); len(d) == 0 || d[0] != '{' || !json.Valid(d) {
			return invalid("event data must be a JSON object")
		}
	}
	return nil
}

// AgentEvents carries a batch of outbox events, oldest first.
type AgentEvents struct {
	Events []AgentEvent `json:"events"`
}

func (*AgentEvents) Type() string { return "agent_events" }
func (m *AgentEvents) Validate() error {
	if len(m.Events) == 0 || len(m.Events) > MaxAgentEvents {
		return invalid("1 to %d events per batch", MaxAgentEvents)
	}
	for i := range m.Events {
		if err := m.Events[i].Validate(); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
	}
	return nil
}

// AgentEventsAck names the events the broker has recorded (or had already).
type AgentEventsAck struct {
	IDs []string `json:"ids"`
}

func (*AgentEventsAck) Type() string { return "agent_events_ack" }
func (m *AgentEventsAck) Validate() error {
	if len(m.IDs) == 0 || len(m.IDs) > MaxAgentEvents {
		return invalid("1 to %d ids per ack", MaxAgentEvents)
	}
	for _, id := range m.IDs {
		if err := validID(id); err != nil {
			return err
		}
	}
	return nil
}
