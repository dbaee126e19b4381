package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

// TestCoalescerSumsFailures: 50 failures from one address in a minute are
// two records (the first at once, then one with the other 49 counted), a
// second address gets its own, the next window starts over, and shutdown
// writes what is still counted.
func TestCoalescerSumsFailures(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := clocktest.New(time.Unix(1700000000, 0))
	l := New(st, clk)
	c := NewCoalescer(l, clk, time.Minute, nil)
	fail := func(ip string) {
		t.Helper()
		if err := c.Add(ctx, "enroll|"+ip, Event{Actor: "anonymous", Action: "device.enroll_failed", SourceIP: ip,
			Details: map[string]any{"reason": "bad token"}}); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		ip    string
		count int
	}
	rows := func() []row {
		t.Helper()
		recs, err := st.AuditRecords(ctx, store.AuditFilter{Action: "device.enroll_failed", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var out []row
		for _, r := range recs {
			var d struct{ Count int }
			if err := json.Unmarshal([]byte(r.Details), &d); err != nil {
				t.Fatal(err)
			}
			out = append(out, row{r.SourceIP, d.Count})
		}
		return out
	}
	for range 50 {
		fail("192.0.2.1")
		clk.Advance(time.Second)
	}
	fail("192.0.2.2")
	if got := fmt.Sprint(rows()); got != "[{192.0.2.1 1} {192.0.2.2 1}]" {
		t.Fatalf("during the window: %s", got)
	}
	c.Flush(ctx, false) // the first address's window (50 s old) has not ended
	if n := len(rows()); n != 2 {
		t.Fatalf("flushed an open window: %d records", n)
	}
	clk.Advance(15 * time.Second)
	c.Flush(ctx, false)
	if got := fmt.Sprint(rows()); got != "[{192.0.2.1 1} {192.0.2.2 1} {192.0.2.1 49}]" {
		t.Fatalf("after the window: %s", got)
	}
	fail("192.0.2.1") // a new window: written at once again
	fail("192.0.2.1")
	c.Flush(ctx, true) // shutdown
	if got := fmt.Sprint(rows()); got != "[{192.0.2.1 1} {192.0.2.2 1} {192.0.2.1 49} {192.0.2.1 1} {192.0.2.1 1}]" {
		t.Fatalf("after shutdown: %s", got)
	}
	if n, err := l.Verify(ctx); err != nil || n != 5 {
		t.Fatalf("chain: %d %v", n, err)
	}
}

// TestCoalescerBoundsKeys: a spray from more addresses than MaxKeys keeps
// at most MaxKeys buckets; the rest share the overflow bucket.
func TestCoalescerBoundsKeys(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := clocktest.New(time.Unix(1700000000, 0))
	c := NewCoalescer(New(st, clk), clk, time.Minute, nil)
	c.buckets = make(map[string]*bucket, MaxKeys)
	for i := range MaxKeys {
		c.buckets[fmt.Sprint(i)] = &bucket{start: clk.Now()}
	}
	for i := range 10 {
		if err := c.Add(ctx, fmt.Sprint("new", i), Event{Actor: "anonymous", Action: "x", SourceIP: fmt.Sprint("ip", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.buckets) != MaxKeys+1 || c.buckets[overflowKey] == nil || c.buckets[overflowKey].n != 9 {
		t.Fatalf("%d buckets, overflow %+v", len(c.buckets), c.buckets[overflowKey])
	}
	recs, _ := st.AuditRecords(ctx, store.AuditFilter{Action: "x"})
	if len(recs) != 1 || recs[0].SourceIP != "" {
		t.Fatalf("overflow records: %+v", recs)
	}
}

// TestCoalescerRunFlushesAtShutdown: what Run still counts when its
// context ends is written before Run returns.
func TestCoalescerRunFlushesAtShutdown(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := NewCoalescer(New(st, nil), nil, time.Hour, nil)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	for range 3 {
		if err := c.Add(ctx, "k", Event{Actor: "anonymous", Action: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	recs, _ := st.AuditRecords(ctx, store.AuditFilter{Action: "x"})
	if len(recs) != 2 || !strings.Contains(recs[1].Details, `"count":2`) {
		t.Fatalf("records at shutdown: %+v", recs)
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
