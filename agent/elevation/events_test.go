package elevation

import (
	"bytes"
	"sync"
	"time"
)

var (
	testSecret = bytes.Repeat([]byte{0x42}, 32)
	testDevice = "dev-test-1"
	start      = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
)

// events collects what a Manager reports.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }

func (e *events) list() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.all...)
}

func (e *events) kinds() []EventKind {
	var out []EventKind
	for _, ev := range e.list() {
		out = append(out, ev.Kind)
	}
	return out
}
