package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"porthole/broker"
	"porthole/broker/metrics/metricstest"
	"porthole/internal/browsertest"
)

// scrapeMetrics reads the broker's /metrics as Prometheus would.
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("scrape: %d %v\n%s", res.StatusCode, err, b)
	}
	return metricstest.Parse(t, string(b))
}

// TestMetricsCountASession: a real support session (agent binary, Xvfb,
// Chromium, recording on) shows in /metrics on the metrics listener, which
// parses with Prometheus's text parser; the portal's listener serves
// /readyz but not the figures.
func TestMetricsCountASession(t *testing.T) {
	maddr := freeAddr(t)
	e := startBrokerWith(t, t.TempDir(), nil, func(c *broker.Config) { c.MetricsListen = maddr })
	murl := "http://" + maddr
	admin := e.login(t, "admin", e.Password)
	before := scrapeMetrics(t, murl)
	if before["porthole_sessions_ended_total{state=ended}"] != 0 || before["porthole_relay_packets_total"] != 0 {
		t.Fatalf("a fresh broker counts sessions: %v", before)
	}
	ep := startEndpoint(t, e, admin)
	waitFor(t, "agent counted online", 10*time.Second, func() bool {
		return scrapeMetrics(t, murl)["porthole_agents_online"] == 1
	})
	ctx := browsertest.New(t)
	id := runSession(t, ctx, e, admin, ep, 2, 3*time.Second)
	endedAudit(t, admin, id) // the session's last audit records are written
	var m map[string]float64
	waitFor(t, "recording counted", 10*time.Second, func() bool {
		m = scrapeMetrics(t, murl)
		return m["porthole_recordings_finished_total"] == 1
	})
	for _, c := range []struct {
		name string
		ok   func(float64) bool
	}{
		{"porthole_sessions_ended_total{state=ended}", func(v float64) bool { return v == 1 }},
		{"porthole_sessions{state=ended}", func(v float64) bool { return v == 1 }},
		{"porthole_sessions{state=live}", func(v float64) bool { return v == 0 }},
		{"porthole_relay_packets_total", func(v float64) bool { return v > 30 }},
		{"porthole_relay_bytes_total", func(v float64) bool { return v > 10_000 }},
		{"porthole_relay_input_total", func(v float64) bool { return v >= 2 }},
		{"porthole_recording_bytes_total", func(v float64) bool { return v > 10_000 }},
		{"porthole_recording_failures_total", func(v float64) bool { return v == 0 }},
		{"porthole_audit_append_seconds_count", func(v float64) bool { return v > before["porthole_audit_append_seconds_count"] }},
		{"go_sql_open_connections{db_name=porthole}", func(v float64) bool { return v >= 1 }},
		{"porthole_agents_online", func(v float64) bool { return v == 1 }},
	} {
		if v, ok := m[c.name]; !ok || !c.ok(v) {
			t.Errorf("%s = %v (present %v)", c.name, v, ok)
		}
	}
	// A wrong password counts as a login failure.
	res, err := http.Post(e.URL+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"wrong"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if v := scrapeMetrics(t, murl)["porthole_login_failures_total{reason=bad_credentials}{step=password}"]; v != 1 {
		t.Errorf("login failures = %v, want 1", v)
	}
	for url, want := range map[string]int{e.URL + "/readyz": 200, murl + "/readyz": 200, murl + "/healthz": 200} {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", url, res.StatusCode, want)
		}
	}
	// The portal's listener has no figures (its catch-all serves the portal).
	res, err = http.Get(e.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(b), "porthole_") {
		t.Errorf("the portal's listener serves the figures:\n%s", b)
	}
}
