package audit

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	"porthole/internal/clock"
)

// Coalescer writes the audit records of unauthenticated failures (a bad
// enrollment token, an agent hello that fails authentication) so that a
// flood of them cannot flood the log: per key (the action and the source
// address) the first failure of a window is written at once, with count 1,
// so alerts fire without delay; the rest of that window's failures are
// counted and written as one record, with their count, when the window
// ends (or at shutdown). Nothing is lost, only summed.
//
// Keys are bounded (MaxKeys): past it, new keys share one overflow bucket
// whose record names no address.
type Coalescer struct {
	log    *Log
	clock  clock.Clock
	window time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	buckets map[string]*bucket // guarded by mu
}

// DefaultCoalesceWindow is how long failures of one key are summed.
const DefaultCoalesceWindow = time.Minute

// MaxKeys bounds the buckets a Coalescer keeps at once.
const MaxKeys = 4096

// overflowKey is the bucket of failures whose key found no room.
const overflowKey = "\x00overflow"

// bucket is one key's window: when it began, the failures counted since the
// record written at its start, and the newest of them (whose event the
// summary record repeats).
type bucket struct {
	start time.Time
	n     int
	first time.Time
	last  Event
	at    time.Time
}

// NewCoalescer returns a Coalescer writing to log; window 0 means
// DefaultCoalesceWindow, a nil clock the system clock.
func NewCoalescer(log *Log, clk clock.Clock, window time.Duration, logger *slog.Logger) *Coalescer {
	if clk == nil {
		clk = clock.Real{}
	}
	if window <= 0 {
		window = DefaultCoalesceWindow
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Coalescer{log: log, clock: clk, window: window, logger: logger.With("component", "audit"), buckets: map[string]*bucket{}}
}

// Add records one failure under key (e.g. the action and the source
// address). It writes e at once when it opens a window; otherwise e is
// counted for the window's summary. An error is the audit log's.
func (c *Coalescer) Add(ctx context.Context, key string, e Event) error {
	now := c.clock.Now()
	c.mu.Lock()
	b, ok := c.buckets[key]
	if ok && now.Sub(b.start) >= c.window {
		// The window ended without a flush yet: sum it up first.
		sum, has := c.summaryLocked(b)
		delete(c.buckets, key)
		c.mu.Unlock()
		if has {
			c.write(ctx, sum)
		}
		return c.Add(ctx, key, e)
	}
	if !ok {
		if len(c.buckets) >= MaxKeys && key != overflowKey {
			c.mu.Unlock()
			e.SourceIP = ""
			e.Details = withDetail(e.Details, "overflow", true)
			return c.Add(ctx, overflowKey, e)
		}
		c.buckets[key] = &bucket{start: now}
		c.mu.Unlock()
		_, err := c.log.Append(ctx, Event{Actor: e.Actor, Action: e.Action, Target: e.Target, SourceIP: e.SourceIP,
			Details: withDetail(e.Details, "count", 1)})
		return err
	}
	if b.n == 0 {
		b.first = now
	}
	b.n++
	b.last, b.at = e, now
	c.mu.Unlock()
	return nil
}

// Flush writes the summary of every window that has ended by now; with all
// set, of every window (shutdown).
func (c *Coalescer) Flush(ctx context.Context, all bool) {
	now := c.clock.Now()
	var out []Event
	c.mu.Lock()
	for k, b := range c.buckets {
		if !all && now.Sub(b.start) < c.window {
			continue
		}
		if sum, has := c.summaryLocked(b); has {
			out = append(out, sum)
		}
		delete(c.buckets, k)
	}
	c.mu.Unlock()
	for _, e := range out {
		c.write(ctx, e)
	}
}

// Run flushes ended windows until ctx ends, then flushes the rest (with a
// fresh context: the records must still be written at shutdown).
func (c *Coalescer) Run(ctx context.Context) error {
	t := time.NewTicker(max(c.window/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.Flush(ctx, false)
		case <-ctx.Done():
			c.Flush(context.WithoutCancel(ctx), true)
			return nil
		}
	}
}

// summaryLocked is the record for a window's counted failures, if any.
func (c *Coalescer) summaryLocked(b *bucket) (Event, bool) {
	if b.n == 0 {
		return Event{}, false
	}
	e := b.last
	d := withDetail(e.Details, "count", b.n)
	d["coalesced"] = true
	d["first_at"] = b.first.UTC()
	d["last_at"] = b.at.UTC()
	d["window_seconds"] = int(c.window / time.Second)
	e.Details = d
	return e, true
}

func (c *Coalescer) write(ctx context.Context, e Event) {
	if _, err := c.log.Append(ctx, e); err != nil {
		c.logger.Error("audit coalesced failures", "action", e.Action, "err", err)
	}
}

// withDetail returns a copy of d with k set to v.
func withDetail(d map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(d)+1)
	maps.Copy(out, d)
	out[k] = v
	return out
}
