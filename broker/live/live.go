// Package live fans broker events (device online/offline, inventory changes)
// out to connected portal pages so they update without a reload.
package live

import "sync"

// Event is one update pushed to portal pages.
type Event struct {
	Type string `json:"type"` // "device"
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// Hub is a publish/subscribe point. Publishing never blocks: a subscriber
// that falls behind by more than its buffer is dropped (its channel closed),
// and the page reconnects and reloads its state.
type Hub struct {
	mu   sync.Mutex
	subs map[chan Event]struct{} // guarded by mu
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[chan Event]struct{}{}} }

// Subscribe returns a channel of events and a cancel function that must be called.
func (h *Hub) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 64)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// Publish sends e to every subscriber.
func (h *Hub) Publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}
