// Package outbox is the agent's durable queue of audit events for the
// broker. What the agent does on its own — a break-glass account created or
// removed at expiry, an elevation granted, a process run elevated — often
// happens while the broker is unreachable, and must still reach the audit
// log: every event is fsync'd to the state directory before Add returns,
// sent in order whenever the link is up, and dropped only when the broker
// acknowledges it. The broker de-duplicates by event id, so a batch resent
// after a lost acknowledgement is recorded once.
package outbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"porthole/internal/clock"
	"porthole/internal/durable"
	"porthole/internal/wire"
)

// File is the outbox's name inside the state directory.
const File = "outbox.jsonl"

// Errors.
var (
	// ErrFull: MaxPending events wait already; the newest is refused rather
	// than the oldest forgotten.
	ErrFull = errors.New("outbox: full")
	// ErrCorrupt: a record before the last one does not parse. The file is
	// left as is for inspection; nothing is silently dropped.
	ErrCorrupt = errors.New("outbox: corrupt file")
	// ErrClosed: the outbox was closed.
	ErrClosed = errors.New("outbox: closed")
)

// Options tune an Outbox; the zero value is usable.
type Options struct {
	Logger *slog.Logger
	Clock  clock.Clock
	// MaxPending bounds the queue (default 100000 events).
	MaxPending int
	// AckTimeout is how long Pump waits for an acknowledgement before it
	// sends the batch again (default 10s).
	AckTimeout time.Duration
}

// record is one line of the file: an added event or acknowledged ids.
type record struct {
	Add *wire.AgentEvent `json:"add,omitempty"`
	Ack []string         `json:"ack,omitempty"`
}

// Outbox is safe for concurrent use.
type Outbox struct {
	path string
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	f       *os.File          // append handle; nil once closed
	pending []wire.AgentEvent // oldest first
	written int               // records in the file, for compaction
	changed chan struct{}     // cap 1: an event was added
	acked   chan struct{}     // cap 1: an acknowledgement arrived
}

// Open loads the outbox in dir, creating it if needed. A torn last record
// (a crash in the middle of a write) is dropped: its Add had not returned.
func Open(dir string, opts Options) (*Outbox, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 100000
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 10 * time.Second
	}
	o := &Outbox{path: filepath.Join(dir, File), opts: opts, log: opts.Logger.With("component", "outbox"),
		changed: make(chan struct{}, 1), acked: make(chan struct{}, 1)}
	if err := o.load(); err != nil {
		return nil, err
	}
	// Rewrite with the pending events only: acknowledged ones and a torn
	// tail go, and appends start on a clean line.
	if err := o.compact(); err != nil {
		return nil, err
	}
	if len(o.pending) > 0 {
		o.log.Info("events waiting for the broker", "count", len(o.pending))
	}
	return o, nil
}

func (o *Outbox) load() error {
	b, err := os.ReadFile(o.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	byID := map[string]int{}
	var events []wire.AgentEvent
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || (r.Add == nil && r.Ack == nil) {
			if !bytes.HasSuffix(b, []byte("\n")) && bytes.HasSuffix(b, sc.Bytes()) {
				o.log.Warn("dropping a torn last record", "line", line)
				break
			}
			return fmt.Errorf("%w: %s line %d", ErrCorrupt, o.path, line)
		}
		if r.Add != nil {
			byID[r.Add.ID] = len(events)
			events = append(events, *r.Add)
		}
		for _, id := range r.Ack {
			if i, ok := byID[id]; ok {
				events[i].ID = "" // acknowledged
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, o.path, err)
	}
	for _, e := range events {
		if e.ID != "" {
			o.pending = append(o.pending, e)
		}
	}
	return nil
}

// compact rewrites the file with the pending events and reopens it for
// appending. The caller holds mu (or has the outbox to itself).
func (o *Outbox) compact() error {
	var buf bytes.Buffer
	for i := range o.pending {
		if err := writeRecord(&buf, record{Add: &o.pending[i]}); err != nil {
			return err
		}
	}
	if o.f != nil {
		o.f.Close()
		o.f = nil
	}
	if err := durable.WriteFile(o.path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	o.f, o.written = f, len(o.pending)
	return nil
}

func writeRecord(w io.Writer, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("outbox: encode: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// append writes r durably. The caller holds mu.
func (o *Outbox) append(r record) error {
	if o.f == nil {
		return ErrClosed
	}
	if err := writeRecord(o.f, r); err != nil {
		return fmt.Errorf("outbox: write: %w", err)
	}
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("outbox: fsync: %w", err)
	}
	o.written++
	return nil
}

// Add queues an event of kind with data (marshalled to a JSON object; nil
// for none). When it returns nil the event is on disk.
func (o *Outbox) Add(kind string, data any) (wire.AgentEvent, error) {
	id := make([]byte, 16)
	rand.Read(id)
	e := wire.AgentEvent{ID: hex.EncodeToString(id), Kind: kind, At: o.opts.Clock.Now().UTC()}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return e, fmt.Errorf("outbox: encode %s: %w", kind, err)
		}
		e.Data = b
	}
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("outbox: %s: %w", kind, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) >= o.opts.MaxPending {
		return e, fmt.Errorf("%w: %d events waiting", ErrFull, len(o.pending))
	}
	if err := o.append(record{Add: &e}); err != nil {
		return e, err
	}
	o.pending = append(o.pending, e)
	signal(o.changed)
	return e, nil
}

// Pending returns up to n of the oldest events not yet acknowledged.
func (o *Outbox) Pending(n int) []wire.AgentEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]wire.AgentEvent(nil), o.pending[:min(n, len(o.pending))]...)
}

// Len is the number of events waiting.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

// Ack drops the acknowledged events. Unknown ids (already acknowledged)
// are ignored.
func (o *Outbox) Ack(ids []string) error {
	drop := make(map[string]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := o.pending[:0]
	var known []string
	for _, e := range o.pending {
		if drop[e.ID] {
			known = append(known, e.ID)
			continue
		}
		keep = append(keep, e)
	}
	clear(o.pending[len(keep):])
	o.pending = keep
	if len(known) == 0 {
		return nil
	}
	defer signal(o.acked)
	// Once the file is all or mostly acknowledged history, rewrite it.
	if len(o.pending) == 0 || o.written > 1024 && o.written > 4*len(o.pending) {
		return o.compact()
	}
	return o.append(record{Ack: known})
}

// Close releases the file. Pending events stay on disk for the next Open.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return nil
	}
	err := o.f.Close()
	o.f = nil
	return err
}

// Link is the part of the agent's broker link the pump needs.
type Link interface {
	Send(wire.Message) error
	// Connected is closed while the link is up.
	Connected() <-chan struct{}
}

// Acked takes the broker's acknowledgement of delivered events.
func (o *Outbox) Acked(_ context.Context, ack *wire.AgentEventsAck) {
	if err := o.Ack(ack.IDs); err != nil {
		o.log.Error("recording an acknowledgement failed; the events will be sent again", "err", err)
	}
}

// Pump sends the pending events, oldest first in batches, whenever the link
// is up, until ctx ends. A batch not acknowledged within AckTimeout is sent
// again (the broker de-duplicates).
func (o *Outbox) Pump(ctx context.Context, l Link) {
	for {
		select {
		case <-l.Connected():
		case <-ctx.Done():
			return
		}
		batch := o.Pending(wire.MaxAgentEvents)
		if len(batch) == 0 {
			select {
			case <-o.changed:
				continue
			case <-ctx.Done():
				return
			}
		}
		drain(o.acked)
		if err := l.Send(&wire.AgentEvents{Events: batch}); err != nil {
			o.log.Warn("sending events failed; will retry", "count", len(batch), "err", err)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		t := time.NewTimer(o.opts.AckTimeout)
		select {
		case <-o.acked:
		case <-t.C:
			o.log.Warn("broker did not acknowledge events; sending again", "count", len(batch))
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func drain(c chan struct{}) {
	select {
	case <-c:
	default:
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
