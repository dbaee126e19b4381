// Package auditstream forwards audit records off the broker as they are
// written, to syslog (RFC 5424 over TCP or UDP) and/or a webhook (JSON POST,
// HMAC-signed), so the record of what happened survives the loss of the
// broker's disk.
//
// Forwarding never blocks or fails the audited action: Publish only queues.
// Each destination has its own bounded queue and goroutine; when a queue is
// full the newest record is dropped and counted (the hash chain in the store
// stays authoritative, and the receiver sees the gap in seq numbers).
// Delivery retries with exponential backoff.
package auditstream

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"porthole/broker/audit"
	"porthole/broker/store"
)

var _ audit.Sink = (*Streamer)(nil)

// Config says where to forward. Empty Syslog and Webhook make a Streamer
// that forwards nothing.
type Config struct {
	// Syslog is "tcp://host:port" or "udp://host:port".
	Syslog string
	// Webhook is an http(s) URL that receives each record as a JSON POST.
	Webhook string
	// WebhookSecret, if set, signs each body: header X-Porthole-Signature:
	// sha256=HEX(HMAC-SHA256(secret, body)).
	WebhookSecret []byte
	// QueueSize bounds each destination's queue (default 1024).
	QueueSize int
	// MaxAttempts per record before it is dropped (default 8).
	MaxAttempts int
	// Backoff is the first retry delay, doubled up to MaxBackoff (defaults 250ms, 30s).
	Backoff, MaxBackoff time.Duration
	// Hostname in syslog headers (default os.Hostname).
	Hostname string
	// Client posts to the webhook (default: 10 s timeout).
	Client *http.Client
	Logger *slog.Logger
}

// Stats counts what happened to records, per Streamer.
type Stats struct {
	Sent    uint64 `json:"sent"`    // delivered (per destination)
	Dropped uint64 `json:"dropped"` // queue full
	Failed  uint64 `json:"failed"`  // gave up after MaxAttempts
}

// Streamer is an audit.Sink that forwards records. Run delivers them.
type Streamer struct {
	cfg  Config
	log  *slog.Logger
	dest []*destination

	sent, dropped, failed atomic.Uint64
}

// destination is one place records go.
type destination struct {
	name  string
	queue chan store.AuditRecord
	send  func(ctx context.Context, r store.AuditRecord) error
	close func()
}

// New validates cfg.
func New(cfg Config) (*Streamer, error) {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1024
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Streamer{cfg: cfg, log: cfg.Logger.With("component", "auditstream")}
	if cfg.Syslog != "" {
		sl, err := newSyslog(cfg.Syslog, cfg.Hostname)
		if err != nil {
			return nil, err
		}
		s.dest = append(s.dest, &destination{name: "syslog", queue: make(chan store.AuditRecord, cfg.QueueSize), send: sl.send, close: sl.close})
	}
	if cfg.Webhook != "" {
		u, err := url.Parse(cfg.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: webhook %q: want an http(s) URL", ErrConfig, cfg.Webhook)
		}
		wh := &webhook{url: u.String(), secret: cfg.WebhookSecret, client: cfg.Client}
		s.dest = append(s.dest, &destination{name: "webhook", queue: make(chan store.AuditRecord, cfg.QueueSize), send: wh.send, close: func() {}})
	}
	return s, nil
}

// Enabled reports whether any destination is configured.
func (s *Streamer) Enabled() bool { return len(s.dest) > 0 }

// Publish queues rec for every destination without blocking.
func (s *Streamer) Publish(rec store.AuditRecord) {
	for _, d := range s.dest {
		select {
		case d.queue <- rec:
		default:
			s.dropped.Add(1)
			s.log.Warn("audit stream queue full, record dropped", "destination", d.name, "seq", rec.Seq)
		}
	}
}

// Stats returns the counters.
func (s *Streamer) Stats() Stats {
	return Stats{Sent: s.sent.Load(), Dropped: s.dropped.Load(), Failed: s.failed.Load()}
}

// Run delivers queued records until ctx ends; records still queued then
// are not delivered (the store keeps them).
func (s *Streamer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, d := range s.dest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer d.close()
			s.deliver(ctx, d)
		}()
	}
	wg.Wait()
	return nil
}

func (s *Streamer) deliver(ctx context.Context, d *destination) {
	for {
		select {
		case <-ctx.Done():
			return
		case rec := <-d.queue:
			delay := s.cfg.Backoff
			for attempt := 1; ; attempt++ {
				err := d.send(ctx, rec)
				if err == nil {
					s.sent.Add(1)
					break
				}
				if attempt >= s.cfg.MaxAttempts {
					s.failed.Add(1)
					s.log.Error("audit stream gave up on a record", "destination", d.name, "seq", rec.Seq, "attempts", attempt, "err", err)
					break
				}
				s.log.Warn("audit stream delivery failed, retrying", "destination", d.name, "seq", rec.Seq, "attempt", attempt, "err", err)
				t := time.NewTimer(delay)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				delay = min(delay*2, s.cfg.MaxBackoff)
			}
		}
	}
}
