package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/agent/identity"
	"porthole/internal/browsertest"
	"porthole/internal/elevcode"
	"porthole/internal/wire"
)

// TestPortalElevationPanel issues a code from a device's Elevation panel
// (the agent's secret verifies it) and sees an elevation session with its
// process, delivered through the agent's outbox, listed there.
func TestPortalElevationPanel(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	a := enrollAgent(t, e, admin.enrollToken(1, time.Hour), oneDisplay)
	ctx := browsertest.New(t)
	browsertest.Step(ctx, t, 20*time.Second,
		loginSteps(e, "admin", e.Password),
		chromedp.WaitVisible(css(`tr[data-device="`+a.DeviceID()+`"]`)),
		chromedp.Navigate(e.URL+"/#/devices/"+a.DeviceID()),
		chromedp.WaitVisible(css(`#elev-issue`)), settled(),
		chromedp.WaitVisible(css(`#elev-sessions .empty`)),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('elev-user').value = 'bob'; document.getElementById('elev-minutes').value = '15'; 0`),
		chromedp.Click(css(`#elev-issue`)),
		chromedp.WaitVisible(css(`#elev-code`)),
	)
	code := browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[string](`document.getElementById('elev-code').value`))
	id, err := identity.Load(a.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := elevcode.Verify(id.DeviceSecret, a.DeviceID(), "bob", code, time.Now(), 0)
	if err != nil || g.Duration != 15*time.Minute {
		t.Fatalf("code %q from the portal: %+v %v", code, g, err)
	}
	// Above elevation.max_minutes: the broker's message is shown.
	browsertest.Step(ctx, t, 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.getElementById('elev-minutes').value = '600'; 0`),
		chromedp.Click(css(`#elev-issue`)),
		chromedp.WaitVisible(css(`#elev-error:not(:empty)`)),
	)
	if msg := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#elev-error`))); !strings.Contains(msg, "max_minutes") {
		t.Errorf("error shown: %q", msg)
	}

	// What an elevated agent reports, through its real outbox.
	until := time.Now().Add(15 * time.Minute)
	for _, ev := range []struct {
		kind string
		data wire.ElevationEvent
	}{
		{"elevation.granted", wire.ElevationEvent{SessionID: "sess1", User: "bob", Until: until}},
		{"elevation.process_start", wire.ElevationEvent{SessionID: "sess1", User: "bob",
			Process: &wire.ElevationProcessed{PID: 4242, PPID: 4241, Exe: "/usr/bin/apt-get", Args: []string{"apt-get", "install", "token=[REDACTED]"}}}},
	} {
		b, err := wire.MarshalElevationEvent(ev.data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Events().Add(ev.kind, b); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "events acknowledged", 10*time.Second, func() bool { return a.Events().Len() == 0 })
	browsertest.Step(ctx, t, 10*time.Second,
		chromedp.Click(css(`#elev-refresh`)),
		chromedp.WaitVisible(css(`#elev-sessions [data-session="sess1"] table`)),
	)
	text := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#elev-sessions`)))
	for _, want := range []string{"bob", "running until", "/usr/bin/apt-get", "apt-get install token=[REDACTED]", "4242"} {
		if !strings.Contains(text, want) {
			t.Errorf("panel lacks %q:\n%s", want, text)
		}
	}
}
