package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, dir string, opts Options) *Outbox {
	t.Helper()
	o, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func kinds(es []wire.AgentEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Kind)
	}
	return out
}

func TestSurvivesReopenAndAck(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, Options{})
	var ids []string
	for i := range 5 {
		e, err := o.Add(fmt.Sprintf("test.event%d", i), map[string]any{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if err := o.Ack(ids[:2]); err != nil {
		t.Fatal(err)
	}
	if err := o.Ack([]string{"unknown"}); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if _, err := o.Add("test.late", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	o2 := open(t, dir, Options{})
	got := o2.Pending(10)
	if fmt.Sprint(kinds(got)) != "[test.event2 test.event3 test.event4]" {
		t.Fatalf("after reopen: %v", kinds(got))
	}
	if string(got[0].Data) != `{"n":2}` || got[0].ID != ids[2] || got[0].At.IsZero() {
		t.Fatalf("event not kept as added: %+v", got[0])
	}
	if n := len(o2.Pending(2)); n != 2 {
		t.Fatalf("Pending(2) gave %d", n)
	}
}

func TestTornAndCorruptFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tail    string
		wantErr error
		want    int
	}{
		{"torn last record", `{"add":{"id":"x","ki`, nil, 2},
		{"corrupt record in the middle", "garbage\n", ErrCorrupt, 0},
		{"empty record", "{}\n", ErrCorrupt, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := open(t, dir, Options{})
			for range 2 {
				if _, err := o.Add("test.ok", nil); err != nil {
					t.Fatal(err)
				}
			}
			o.Close()
			f, err := os.OpenFile(filepath.Join(dir, File), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(tc.tail)
			f.Close()
			o2, err := Open(dir, Options{})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Open: %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			defer o2.Close()
			if o2.Len() != tc.want {
				t.Fatalf("%d pending, want %d", o2.Len(), tc.want)
			}
			// Appends after a torn tail start on a clean line.
			if _, err := o2.Add("test.after", nil); err != nil {
				t.Fatal(err)
			}
			o2.Close()
			if o3 := open(t, dir, Options{}); o3.Len() != tc.want+1 {
				t.Fatalf("%d pending after reopen, want %d", o3.Len(), tc.want+1)
			}
		})
	}
}

func TestFullAndCompaction(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, Options{MaxPending: 3000})
	for range 3000 {
		if _, err := o.Add("test.bulk", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := o.Add("test.one_too_many", nil); !errors.Is(err, ErrFull) {
		t.Fatalf("Add past MaxPending: %v", err)
	}
	for o.Len() > 10 {
		var ids []string
		for _, e := range o.Pending(100) {
			ids = append(ids, e.ID)
		}
		if err := o.Ack(ids); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, File))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 64<<10 {
		t.Fatalf("file is %d bytes with %d events pending: not compacted", fi.Size(), o.Len())
	}
	o.Close()
	if o2 := open(t, dir, Options{}); o2.Len() != o.Len() {
		t.Fatalf("%d pending after reopen, want %d", o2.Len(), o.Len())
	}
}

func TestInvalidEvent(t *testing.T) {
	o := open(t, t.TempDir(), Options{})
	for _, kind := range []string{"nodot", "Upper.case", ""} {
		if _, err := o.Add(kind, nil); !errors.Is(err, wire.ErrInvalid) {
			t.Fatalf("Add(%q): %v", kind, err)
		}
	}
	if _, err := o.Add("test.bad_data", []int{1}); !errors.Is(err, wire.ErrInvalid) {
		t.Fatalf("array data: %v", err)
	}
	if _, err := o.Add("test.unencodable", map[string]any{"c": make(chan int)}); err == nil {
		t.Fatal("unencodable data accepted")
	}
	if o.Len() != 0 {
		t.Fatal("invalid events queued")
	}
}

// broker is a fake link end: it can be up or down, may lose acks, and
// records what it got, de-duplicating like the real broker.
type broker struct {
	mu       sync.Mutex
	up       chan struct{}
	down     chan struct{}
	isUp     bool
	dropAcks int
	seen     map[string]bool
	got      []string
	batches  int
	o        *Outbox
}

func newBroker(o *Outbox) *broker {
	b := &broker{up: make(chan struct{}), down: make(chan struct{}), seen: map[string]bool{}, o: o}
	return b
}

func (b *broker) setUp(up bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if up == b.isUp {
		return
	}
	b.isUp = up
	if up {
		close(b.up)
	} else {
		b.up = make(chan struct{})
	}
}

func (b *broker) Connected() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.up
}

func (b *broker) Send(m wire.Message) error {
	b.mu.Lock()
	if !b.isUp {
		b.mu.Unlock()
		return errors.New("not connected")
	}
	evs := m.(*wire.AgentEvents)
	if err := evs.Validate(); err != nil {
		b.mu.Unlock()
		return err
	}
	b.batches++
	var ids []string
	for _, e := range evs.Events {
		if !b.seen[e.ID] {
			b.seen[e.ID] = true
			b.got = append(b.got, e.Kind)
		}
		ids = append(ids, e.ID)
	}
	drop := b.dropAcks > 0
	if drop {
		b.dropAcks--
	}
	b.mu.Unlock()
	if !drop {
		go b.o.Acked(context.Background(), &wire.AgentEventsAck{IDs: ids})
	}
	return nil
}

func (b *broker) received() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.got...)
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPumpDeliversInOrderOnceAcrossOutagesAndLostAcks(t *testing.T) {
	o := open(t, t.TempDir(), Options{AckTimeout: 100 * time.Millisecond})
	b := newBroker(o)
	// Offline: events queue.
	for i := range 150 {
		if _, err := o.Add(fmt.Sprintf("test.e%03d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); o.Pump(ctx, b) }()
	t.Cleanup(func() { cancel(); <-done })

	b.mu.Lock()
	b.dropAcks = 1 // the first batch's ack is lost: it is sent again
	b.mu.Unlock()
	b.setUp(true)
	waitFor(t, "the backlog", func() bool { return o.Len() == 0 })
	// Online: a new event goes out at once.
	if _, err := o.Add("test.live", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the live event", func() bool { return o.Len() == 0 })
	b.setUp(false)
	if _, err := o.Add("test.while_down", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if o.Len() != 1 {
		t.Fatal("event dropped while the link was down")
	}
	b.setUp(true)
	waitFor(t, "the event queued while down", func() bool { return o.Len() == 0 })

	got := b.received()
	if len(got) != 152 {
		t.Fatalf("broker recorded %d events, want 152", len(got))
	}
	for i := range 150 {
		if got[i] != fmt.Sprintf("test.e%03d", i) {
			t.Fatalf("event %d is %s: out of order", i, got[i])
		}
	}
	if got[150] != "test.live" || got[151] != "test.while_down" {
		t.Fatalf("tail %v", got[150:])
	}
	b.mu.Lock()
	batches := b.batches
	b.mu.Unlock()
	if batches < 4 {
		t.Fatalf("%d batches: the lost ack was not followed by a resend", batches)
	}
}
