package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAgentEventsValidate(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	good := AgentEvent{ID: "e1", Kind: "breakglass.created", At: at, Data: json.RawMessage(`{"user":"pt-1"}`)}
	with := func(f func(*AgentEvent)) AgentEvents {
		e := good
		f(&e)
		return AgentEvents{Events: []AgentEvent{e}}
	}
	many := make([]AgentEvent, MaxAgentEvents+1)
	for i := range many {
		many[i] = good
	}
	for _, tc := range []struct {
		name string
		m    AgentEvents
		ok   bool
	}{
		{"good", with(func(*AgentEvent) {}), true},
		{"no data", with(func(e *AgentEvent) { e.Data = nil }), true},
		{"three dots", with(func(e *AgentEvent) { e.Kind = "elevation.process.exit.code" }), true},
		{"empty batch", AgentEvents{}, false},
		{"too many", AgentEvents{Events: many}, false},
		{"bad id", with(func(e *AgentEvent) { e.ID = "a/b" }), false},
		{"kind without area", with(func(e *AgentEvent) { e.Kind = "created" }), false},
		{"kind upper case", with(func(e *AgentEvent) { e.Kind = "Login.ok" }), false},
		{"kind too deep", with(func(e *AgentEvent) { e.Kind = "a.b.c.d.e" }), false},
		{"zero time", with(func(e *AgentEvent) { e.At = time.Time{} }), false},
		{"data array", with(func(e *AgentEvent) { e.Data = json.RawMessage(`[1]`) }), false},
		{"data too large", with(func(e *AgentEvent) {
			e.Data = json.RawMessage(`{"x":"` + strings.Repeat("a", MaxAgentEventData) + `"}`)
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
	if err := (&AgentEventsAck{IDs: []string{"e1"}}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, ack := range []AgentEventsAck{{}, {IDs: []string{""}}, {IDs: make([]string, MaxAgentEvents+1)}} {
		if err := ack.Validate(); !errors.Is(err, ErrInvalid) {
			t.Fatalf("ack %v accepted", ack.IDs)
		}
	}
}
