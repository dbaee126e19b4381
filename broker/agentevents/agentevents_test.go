package agentevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"porthole/broker/audit"
	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

type acks struct {
	mu  sync.Mutex
	got map[string][]string
	err error
}

func (a *acks) Send(dev string, m wire.Message) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got[dev] = append(a.got[dev], m.(*wire.AgentEventsAck).IDs...)
	return a.err
}

func setup(t *testing.T) (*Recorder, *audit.Log, *acks) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := audit.New(st, clock.Real{})
	a := &acks{got: map[string][]string{}}
	return New(log, a, nil), log, a
}

func event(id, kind, data string) wire.AgentEvent {
	e := wire.AgentEvent{ID: id, Kind: kind, At: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	if data != "" {
		e.Data = json.RawMessage(data)
	}
	return e
}

func actions(t *testing.T, log *audit.Log) []string {
	t.Helper()
	recs, err := log.Query(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Actor+" "+r.Action+" "+r.Details)
	}
	return out
}

func TestRecordsOnceAcksAndRejectsUnknownAreas(t *testing.T) {
	r, log, a := setup(t)
	var hooked []string
	r.Register("breakglass", func(_ context.Context, dev string, ev wire.AgentEvent) error {
		hooked = append(hooked, dev+" "+ev.ID)
		return nil
	})
	r.Register("elevation", nil)
	batch := &wire.AgentEvents{Events: []wire.AgentEvent{
		event("e1", "breakglass.created", `{"user":"pt-1"}`),
		event("e2", "elevation.granted", ""),
		event("e3", "login.ok", `{"user":"admin"}`), // not an agent's to write
	}}
	if !r.Handle("dev1", batch) {
		t.Fatal("agent_events not handled")
	}
	// The ack was lost: the agent sends the same batch again.
	r.Handle("dev1", batch)
	// Another device may reuse an id: it is its own event.
	r.Handle("dev2", &wire.AgentEvents{Events: []wire.AgentEvent{event("e1", "breakglass.created", "")}})
	if r.Handle("dev1", &wire.Heartbeat{}) {
		t.Fatal("handled a heartbeat")
	}

	got := actions(t, log)
	want := []string{
		`device:dev1 breakglass.created {"agent_time":"2026-11-23T09:00:00Z","event_id":"e1","user":"pt-1"}`,
		`device:dev1 elevation.granted {"agent_time":"2026-11-23T09:00:00Z","event_id":"e2"}`,
		`device:dev1 agent.event_rejected {"event_id":"e3","kind":"login.ok","reason":"no broker feature accepts this kind"}`,
		`device:dev2 breakglass.created {"agent_time":"2026-11-23T09:00:00Z","event_id":"e1"}`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("audit:\n%q\nwant\n%q", got, want)
	}
	if fmt.Sprint(a.got["dev1"]) != "[e1 e2 e3 e1 e2 e3]" || fmt.Sprint(a.got["dev2"]) != "[e1]" {
		t.Fatalf("acks %v", a.got)
	}
	// Hooks run on every delivery (they are idempotent), so a crash between
	// audit and hook cannot lose the effect.
	if fmt.Sprint(hooked) != "[dev1 e1 dev1 e1 dev2 e1]" {
		t.Fatalf("hook calls %v", hooked)
	}
	if n, err := log.Verify(context.Background()); err != nil || n != 4 {
		t.Fatalf("chain: %d, %v", n, err)
	}
}

func TestHookFailureWithholdsAckInOrder(t *testing.T) {
	r, log, a := setup(t)
	fail := true
	r.Register("breakglass", func(_ context.Context, _ string, ev wire.AgentEvent) error {
		if ev.ID == "e2" && fail {
			return errors.New("database busy")
		}
		return nil
	})
	batch := &wire.AgentEvents{Events: []wire.AgentEvent{
		event("e1", "breakglass.created", ""), event("e2", "breakglass.removed", ""), event("e3", "breakglass.expired", ""),
	}}
	r.Handle("dev1", batch)
	if fmt.Sprint(a.got["dev1"]) != "[e1]" {
		t.Fatalf("acks after a failed hook: %v (later events must wait, in order)", a.got["dev1"])
	}
	fail = false
	r.Handle("dev1", batch)
	if fmt.Sprint(a.got["dev1"]) != "[e1 e1 e2 e3]" {
		t.Fatalf("acks after the retry: %v", a.got["dev1"])
	}
	if n := len(actions(t, log)); n != 3 {
		t.Fatalf("%d audit records, want 3 (e2 recorded once though delivered twice)", n)
	}
}

func TestBadDataIsNotAcked(t *testing.T) {
	r, _, a := setup(t)
	r.Register("breakglass", nil)
	// Valid on the wire only if it is an object; a decoder bypassed by a
	// caller must still not crash the recorder.
	r.Handle("dev1", &wire.AgentEvents{Events: []wire.AgentEvent{event("e1", "breakglass.created", `{"a":`)}})
	if len(a.got["dev1"]) != 0 {
		t.Fatalf("acked unreadable data: %v", a.got)
	}
}
