package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/broker"
	"porthole/broker/sessions/sessionstest"
	"porthole/internal/browsertest"
	"porthole/internal/clock/clocktest"
)

// startBrokerTicks runs a broker whose expiry timers are driven by ticks and clk.
func startBrokerTicks(t *testing.T, clk *clocktest.Fake, ticks *sessionstest.Ticks) *env {
	t.Helper()
	out := &syncBuffer{}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := broker.New(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Out: out, Clock: clk, NewTicker: ticks.NewTicker,
		Heartbeat: time.Second, Logger: testLogger(t)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{t: t, URL: srv.URL(), DataDir: dir, cancel: cancel, done: make(chan error, 1)}
	if m := pwLine.FindStringSubmatch(out.String()); m != nil {
		e.Password = m[1]
	}
	go func() { e.done <- srv.Run(ctx) }()
	t.Cleanup(e.stop)
	return e
}

// TestSessionExpiryCountdown: expiry 3 minutes on a fake clock. The viewer
// shows the time left, the prominent countdown appears at 2:00 and the
// agent warns the end user; at 0 the broker ends the session "expired" on
// both sides and in the log.
func TestSessionExpiryCountdown(t *testing.T) {
	clk := clocktest.New(time.Now())
	ticks := sessionstest.New()
	e := startBrokerTicks(t, clk, ticks)
	admin := e.login(t, "admin", e.Password)
	if st, body := admin.do("PUT", "/api/settings/remote_support.expiry_minutes", map[string]string{"value": "3"}, nil); st != 200 {
		t.Fatalf("set expiry: %d %s", st, body)
	}
	ep := startEndpoint(t, e, admin)
	ctx := browsertest.New(t)
	openViewer(t, ctx, e, ep.deviceID)
	consenttest.Press(t, ep.x.Display, consent.Allowed)
	waitViewerState(t, ctx, "live", 20*time.Second)
	consenttest.WaitWindow(t, ep.x.Display, consent.IndicatorTitle)
	text := func(sel string) string { return browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(sel))) }
	countdownShown := func() bool {
		return browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[bool](`!document.getElementById('session-countdown').hidden`))
	}
	if got := text(`#session-expiry`); got != "Time left 3:00" {
		t.Fatalf("time left %q", got)
	}
	if countdownShown() {
		t.Fatal("countdown shown with 3 minutes left")
	}
	tick := func(d time.Duration) {
		clk.Advance(d)
		tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ticks.Tick(tctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	tick(59 * time.Second)
	waitFor(t, "2:01 left", 5*time.Second, func() bool { return text(`#session-expiry`) == "Time left 2:01" })
	if countdownShown() {
		t.Fatal("countdown shown at 2:01")
	}
	tick(time.Second)
	waitFor(t, "countdown at 2:00", 5*time.Second, func() bool { return countdownShown() && text(`#session-countdown`) == "Session ends in 2:00" })
	// The agent re-shows its indicator with the countdown.
	waitFor(t, "agent expiry warning", 10*time.Second, func() bool {
		b, _ := os.ReadFile(ep.logPath)
		return strings.Contains(string(b), "session_expiry_warning")
	})
	consenttest.WaitWindow(t, ep.x.Display, consent.IndicatorTitle)
	tick(2 * time.Minute)
	waitViewerState(t, ctx, "ended", 10*time.Second)
	if r := viewerReason(t, ctx); !strings.Contains(r, "expired") {
		t.Fatalf("viewer reason %q", r)
	}
	consenttest.WaitGone(t, ep.x.Display, consent.IndicatorTitle)
	waitFor(t, "agent session over", 10*time.Second, func() bool {
		b, _ := os.ReadFile(ep.logPath)
		return strings.Contains(string(b), "reason=expired")
	})
	s := latestSession(t, admin, ep.deviceID)
	if s.EndReason != "expired" {
		t.Fatalf("session %+v", s)
	}
	if log := endedAudit(t, admin, s.ID); !strings.Contains(log, "reason:expired") {
		t.Fatalf("audit:\n%s", log)
	}
}
