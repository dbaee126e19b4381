package agents

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
	"porthole/internal/wire"
)

// touches records what the hub stores about last seen.
type touches struct {
	mu      sync.Mutex
	batches [][]string
	at      []time.Time
}

func (f *touches) Device(context.Context, string) (store.Device, error) {
	return store.Device{}, store.ErrNotFound
}
func (f *touches) UpdateInventory(context.Context, string, string, wire.Inventory, time.Time) error {
	return nil
}
func (f *touches) TouchDevice(_ context.Context, id string, seen time.Time) error {
	return f.TouchDevices(context.Background(), []string{id}, seen)
}
func (f *touches) TouchDevices(_ context.Context, ids []string, seen time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := append([]string(nil), ids...)
	sort.Strings(b)
	f.batches = append(f.batches, b)
	f.at = append(f.at, seen)
	return nil
}

// TestHeartbeatsBatched: heartbeats from many devices are stored in one
// statement per TouchInterval, not one write each.
func TestHeartbeatsBatched(t *testing.T) {
	clk := clocktest.New(time.Unix(1e9, 0))
	f := &touches{}
	h := New(Config{Devices: f, Clock: clk, Heartbeat: 15 * time.Second})
	if h.cfg.TouchInterval != time.Minute {
		t.Fatalf("default touch interval %v", h.cfg.TouchInterval)
	}
	var ids []string
	for i := range 300 {
		ids = append(ids, fmt.Sprintf("dev%03d", i))
	}
	for range 4 { // four heartbeats of every device within the minute
		for _, id := range ids {
			h.heard(context.Background(), id, clk.Now())
		}
		clk.Advance(14 * time.Second)
	}
	if len(f.batches) != 0 {
		t.Fatalf("%d writes before the interval passed", len(f.batches))
	}
	clk.Advance(5 * time.Second)
	h.heard(context.Background(), ids[0], clk.Now())
	if len(f.batches) != 1 {
		t.Fatalf("%d writes after the interval, want 1", len(f.batches))
	}
	if diff := cmp.Diff(ids, f.batches[0]); diff != "" || !f.at[0].Equal(clk.Now()) {
		t.Fatalf("batch (-want +got):\n%s at %v", diff, f.at[0])
	}
	h.heard(context.Background(), ids[1], clk.Now())
	if len(f.batches) != 1 {
		t.Fatal("a second write within the interval")
	}
}

// TestHeartbeatFastPath: the heartbeat's exact bytes decode to what the
// general decoder makes of them; anything else goes through it.
func TestHeartbeatFastPath(t *testing.T) {
	want, err := wire.Decode(heartbeatFrame)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(heartbeatFrame)
	if err != nil || !cmp.Equal(got, want) {
		t.Fatalf("decode(heartbeat) = %#v, %v; want %#v", got, err, want)
	}
	bad := append(append([]byte(nil), heartbeatFrame...), ' ')
	if m1, err1 := decode(bad); fmt.Sprint(m1, err1) != fmt.Sprint(wire.Decode(bad)) {
		t.Fatalf("other bytes decode differently: %v %v", m1, err1)
	}
}
