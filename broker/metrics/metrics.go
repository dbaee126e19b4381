// Package metrics exposes the broker's operational figures in the
// Prometheus text format and answers readiness probes.
//
// Most figures are read when Prometheus scrapes (agents online, sessions by
// state, relay counters, database pool); the rest are counted from the audit
// log as records are appended (logins refused, recordings finished or
// failed), so a figure and the audit trail can never disagree, and from the
// time each audit append takes. Every figure is this broker process's own:
// with several replicas, Prometheus adds them up.
//
// The figures are not public: the broker serves them on a listener of their
// own (docs/adr/0011-metrics.md), optionally behind a bearer token.
package metrics

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"porthole/broker/sessions"
	"porthole/broker/store"
)

const namespace = "porthole"

// Config wires Metrics. Nil functions leave their figures out.
type Config struct {
	// DB is the store's pool, for its DBStats.
	DB *sql.DB
	// AgentsOnline counts the agents linked to this broker.
	AgentsOnline func() int
	// Sessions adds up this broker's sessions.
	Sessions func() sessions.Counts
}

// Metrics is the broker's registry. It is an audit sink (Publish) and
// wraps the audit chain (AuditChain) to time appends.
type Metrics struct {
	reg *prometheus.Registry

	auditAppend   prometheus.Histogram
	auditRecords  prometheus.Counter
	loginFailures *prometheus.CounterVec
	lockouts      prometheus.Counter
	recBytes      prometheus.Counter
	recFinished   prometheus.Counter
	recFailures   prometheus.Counter
	recDropped    prometheus.Counter
	sessEnded     *prometheus.CounterVec
}

// New registers every figure.
func New(cfg Config) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	m.auditAppend = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "audit_append_seconds",
		Help:    "Time to append one record to the audit chain (including its transaction).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}})
	m.auditRecords = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "audit_records_total",
		Help: "Audit records appended by this broker."})
	m.loginFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "login_failures_total",
		Help: "Refused login steps (password or second factor), by audited reason."}, []string{"step", "reason"})
	m.lockouts = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "login_lockouts_total",
		Help: "Login steps refused because the account or address was locked out after failures."})
	m.recBytes = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "recording_bytes_total",
		Help: "Bytes of finished recordings (all files), as audited."})
	m.recFinished = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "recordings_finished_total",
		Help: "Recordings closed (with or without an error)."})
	m.recFailures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "recording_failures_total",
		Help: "Recordings that could not start or stopped early (disk full, write error)."})
	m.recDropped = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "recording_packets_dropped_total",
		Help: "RTP packets a recorder dropped because its queue was full."})
	m.sessEnded = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "sessions_ended_total",
		Help: "Support sessions ended, by final state (ended, declined)."}, []string{"state"})
	reg.MustRegister(m.auditAppend, m.auditRecords, m.loginFailures, m.lockouts, m.recBytes, m.recFinished, m.recFailures,
		m.recDropped, m.sessEnded)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.DB != nil {
		reg.MustRegister(collectors.NewDBStatsCollector(cfg.DB, "porthole"))
	}
	if cfg.AgentsOnline != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "agents_online",
			Help: "Agents with a live control link to this broker."}, func() float64 { return float64(cfg.AgentsOnline()) }))
	}
	if cfg.Sessions != nil {
		reg.MustRegister(&sessionCollector{counts: cfg.Sessions})
	}
	return m
}

// Registry is where the figures are registered (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the figures in the Prometheus text format. With a
// non-empty token, a request must carry "Authorization: Bearer TOKEN".
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="porthole-metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Publish counts what an audit record says (an audit.Sink). It never
// blocks: counters only.
func (m *Metrics) Publish(rec store.AuditRecord) {
	m.auditRecords.Inc()
	switch rec.Action {
	case "login.failed", "mfa.failed", "mfa.enroll_failed":
		var d struct {
			Reason string `json:"reason"`
			Step   string `json:"step"`
		}
		_ = json.Unmarshal([]byte(rec.Details), &d)
		step := "password"
		if rec.Action != "login.failed" {
			step = "mfa"
		}
		if d.Reason == "" {
			d.Reason = "invalid_code"
		}
		m.loginFailures.WithLabelValues(step, label(d.Reason)).Inc()
		if d.Reason == "locked" {
			m.lockouts.Inc()
		}
	case "recording.finished":
		var d struct {
			Size  int64  `json:"size"`
			Error string `json:"error"`
			Stats struct {
				Dropped uint64 `json:"dropped"`
			} `json:"stats"`
		}
		_ = json.Unmarshal([]byte(rec.Details), &d)
		m.recFinished.Inc()
		m.recBytes.Add(float64(max(d.Size, 0)))
		m.recDropped.Add(float64(d.Stats.Dropped))
	case "recording.failed":
		m.recFailures.Inc()
	case "session.ended":
		var d struct {
			State string `json:"state"`
		}
		_ = json.Unmarshal([]byte(rec.Details), &d)
		m.sessEnded.WithLabelValues(label(d.State)).Inc()
	}
}

// label keeps a label value from an audit record short and tame, so a
// strange record cannot blow up the series count.
func label(s string) string {
	if s == "" {
		return "unknown"
	}
	if len(s) > 32 || strings.IndexFunc(s, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z') }) >= 0 {
		return "other"
	}
	return s
}

// sessionCollector reads the session manager when scraped.
type sessionCollector struct{ counts func() sessions.Counts }

var (
	descSessions = prometheus.NewDesc(namespace+"_sessions", "Support sessions of this broker run by state "+
		"(waiting_consent, connecting and live now; ended and declined so far).", []string{"state"}, nil)
	descRelayPackets = prometheus.NewDesc(namespace+"_relay_packets_total", "RTP packets relayed to viewers.", nil, nil)
	descRelayBytes   = prometheus.NewDesc(namespace+"_relay_bytes_total", "RTP bytes relayed to viewers.", nil, nil)
	descRelayPLIs    = prometheus.NewDesc(namespace+"_relay_keyframe_requests_total", "Keyframe requests (PLI) forwarded to agents.", nil, nil)
	descRelayInput   = prometheus.NewDesc(namespace+"_relay_input_total", "Viewer input messages forwarded to agents.", nil, nil)
	descRelayDrops   = prometheus.NewDesc(namespace+"_relay_input_drops_total",
		"Viewer input messages not delivered: refused (view-only, malformed) or undeliverable (agent channel closed).", []string{"reason"}, nil)
)

// Every state a session can be in, so each series exists from the start.
var sessionStates = []string{sessions.StateWaitingConsent, sessions.StateConnecting, sessions.StateLive, sessions.StateEnded,
	sessions.StateDeclined}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descRelayPackets, descRelayBytes, descRelayPLIs, descRelayInput, descRelayDrops} {
		ch <- d
	}
}

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.counts()
	for _, st := range sessionStates {
		ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(n.ByState[st]), st)
	}
	r := n.Relay
	ch <- prometheus.MustNewConstMetric(descRelayPackets, prometheus.CounterValue, float64(r.PacketsForwarded))
	ch <- prometheus.MustNewConstMetric(descRelayBytes, prometheus.CounterValue, float64(r.BytesForwarded))
	ch <- prometheus.MustNewConstMetric(descRelayPLIs, prometheus.CounterValue, float64(r.PLIsForwarded))
	ch <- prometheus.MustNewConstMetric(descRelayInput, prometheus.CounterValue, float64(r.InputForwarded))
	ch <- prometheus.MustNewConstMetric(descRelayDrops, prometheus.CounterValue, float64(r.InputDropped), "refused")
	ch <- prometheus.MustNewConstMetric(descRelayDrops, prometheus.CounterValue, float64(r.InputUndelivered), "undelivered")
}

// AuditChain is the store as the audit log appends through it, timing each
// append. Everything else is the store's own.
type AuditChain struct {
	*store.Store
	obs prometheus.Observer
}

// AuditChain wraps st so the audit log's appends are timed.
func (m *Metrics) AuditChain(st *store.Store) *AuditChain {
	return &AuditChain{Store: st, obs: m.auditAppend}
}

// AppendAudit appends through the store and observes how long it took.
func (c *AuditChain) AppendAudit(ctx context.Context, seal func(seq int64, prevHash string) store.AuditRecord) (store.AuditRecord, error) {
	t := time.Now()
	defer func() { c.obs.Observe(time.Since(t).Seconds()) }()
	return c.Store.AppendAudit(ctx, seal)
}

// AppendAgentEvent appends through the store and observes how long it took.
func (c *AuditChain) AppendAgentEvent(ctx context.Context, deviceID, eventID string, seal func(seq int64, prevHash string) store.AuditRecord) (store.AuditRecord, bool, error) {
	t := time.Now()
	defer func() { c.obs.Observe(time.Since(t).Seconds()) }()
	return c.Store.AppendAgentEvent(ctx, deviceID, eventID, seal)
}

// pinger is what readiness needs of the database.
type pinger interface {
	PingContext(ctx context.Context) error
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Ready answers 200 "ready" while the database answers a query within
// timeout, and 503 otherwise: a load balancer stops sending users to a
// broker that cannot reach its database. (/healthz stays a liveness check.)
func Ready(db pinger, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "no-store")
		err := db.PingContext(ctx)
		if err == nil {
			var one int
			err = db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
		}
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: database unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}
