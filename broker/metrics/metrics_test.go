package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/broker/audit"
	"porthole/broker/metrics"
	"porthole/broker/metrics/metricstest"
	"porthole/broker/relay"
	"porthole/broker/sessions"
	"porthole/broker/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "porthole.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func scrape(t *testing.T, h http.Handler, auth string) (int, string) {
	t.Helper()
	r := httptest.NewRequest("GET", "/metrics", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// TestFiguresFromAuditAndScrape: the audit records a broker writes become
// counters, the session manager's and hub's figures are read at scrape
// time, appends through the chain are timed, and the whole scrape parses.
func TestFiguresFromAuditAndScrape(t *testing.T) {
	st := openStore(t)
	online := 3
	m := metrics.New(metrics.Config{DB: st.DB(), AgentsOnline: func() int { return online },
		Sessions: func() sessions.Counts {
			return sessions.Counts{ByState: map[string]int{"live": 2, "ended": 5},
				Relay: relay.Stats{PacketsForwarded: 1000, BytesForwarded: 900_000, InputDropped: 4, InputUndelivered: 1}}
		}})
	log := audit.New(m.AuditChain(st), nil, m)
	ctx := context.Background()
	for _, e := range []audit.Event{
		{Actor: "user:x", Action: "login.failed", Details: map[string]any{"reason": "bad_credentials"}},
		{Actor: "user:x", Action: "login.failed", Details: map[string]any{"reason": "locked"}},
		{Actor: "user:x", Action: "mfa.failed", Details: map[string]any{"reason": "locked", "step": "login"}},
		{Actor: "user:x", Action: "mfa.failed", Details: map[string]any{"step": "login"}},
		{Actor: "user:x", Action: "login.failed", Details: map[string]any{"reason": "Weird Reason!"}},
		{Actor: "system", Action: "recording.finished", Details: map[string]any{"size": 12345, "stats": map[string]any{"dropped": 7}}},
		{Actor: "system", Action: "recording.failed", Details: map[string]any{"error": "disk full"}},
		{Actor: "system", Action: "session.ended", Details: map[string]any{"state": "ended"}},
		{Actor: "system", Action: "session.ended", Details: map[string]any{"state": "declined"}},
		{Actor: "user:x", Action: "login.ok"},
	} {
		if _, err := log.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	code, body := scrape(t, m.Handler(""), "")
	if code != 200 {
		t.Fatalf("scrape: %d", code)
	}
	got := metricstest.Parse(t, body)
	want := map[string]float64{
		"porthole_agents_online": 3,
		"porthole_login_failures_total{reason=bad_credentials}{step=password}": 1,
		"porthole_login_failures_total{reason=locked}{step=password}":          1,
		"porthole_login_failures_total{reason=locked}{step=mfa}":               1,
		"porthole_login_failures_total{reason=invalid_code}{step=mfa}":         1,
		"porthole_login_failures_total{reason=other}{step=password}":           1,
		"porthole_login_lockouts_total":                                        2,
		"porthole_recording_bytes_total":                                       12345,
		"porthole_recordings_finished_total":                                   1,
		"porthole_recording_failures_total":                                    1,
		"porthole_recording_packets_dropped_total":                             7,
		"porthole_sessions_ended_total{state=ended}":                           1,
		"porthole_sessions_ended_total{state=declined}":                        1,
		"porthole_sessions{state=live}":                                        2,
		"porthole_sessions{state=ended}":                                       5,
		"porthole_sessions{state=waiting_consent}":                             0,
		"porthole_relay_packets_total":                                         1000,
		"porthole_relay_bytes_total":                                           900_000,
		"porthole_relay_input_drops_total{reason=refused}":                     4,
		"porthole_relay_input_drops_total{reason=undelivered}":                 1,
		"porthole_audit_records_total":                                         10,
		"porthole_audit_append_seconds_count":                                  10,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// The pool's figures come from database/sql itself.
	if _, ok := got["go_sql_max_open_connections{db_name=porthole}"]; !ok {
		t.Errorf("no DB pool stats in:\n%s", body)
	}
	online = 0
	if got := metricstest.Parse(t, func() string { _, b := scrape(t, m.Handler(""), ""); return b }()); got["porthole_agents_online"] != 0 {
		t.Errorf("agents_online after all left = %v", got["porthole_agents_online"])
	}
}

// TestMetricsToken: with a token, a scrape without it or with a wrong one
// gets 401 and no figures.
func TestMetricsToken(t *testing.T) {
	m := metrics.New(metrics.Config{})
	h := m.Handler("s3cret-token")
	for _, auth := range []string{"", "Bearer wrong", "Bearer s3cret-toke", "s3cret-token", "Basic s3cret-token"} {
		code, body := scrape(t, h, auth)
		if code != http.StatusUnauthorized || strings.Contains(body, "porthole_") {
			t.Errorf("auth %q: %d %q", auth, code, body)
		}
	}
	if code, body := scrape(t, h, "Bearer s3cret-token"); code != 200 || !strings.Contains(body, "porthole_audit_records_total") {
		t.Errorf("right token: %d %q", code, body)
	}
}

// TestReadyFollowsTheDatabase: /readyz answers 200 while the database
// answers and 503 once it cannot be reached.
func TestReadyFollowsTheDatabase(t *testing.T) {
	st := openStore(t)
	h := metrics.Ready(st.DB(), time.Second)
	get := func() (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		return w.Code, w.Body.String()
	}
	if code, body := get(); code != 200 || body != "ready\n" {
		t.Fatalf("open database: %d %q", code, body)
	}
	st.Close()
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "database") {
		t.Fatalf("closed database: %d %q", code, body)
	}
}
