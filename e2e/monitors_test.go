package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/agent"
	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/platform"
	"porthole/agent/support"
	"porthole/internal/browsertest"
	"porthole/internal/testpattern"
	"porthole/internal/wire"
	"porthole/internal/xvfb"
)

// TestSwitchMonitor: the viewer's display picker moves capture to the other
// monitor. Xvfb cannot lay out several monitors, so one 2560x720 screen is
// described to the agent as two 1280x720 monitors side by side; capture,
// encoding and the switch are all real.
func TestSwitchMonitor(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	x := xvfb.StartT(t, xvfb.Options{Width: 2560, Height: 720})
	pctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- testpattern.Run(pctx, testpattern.Options{Display: x.Display, Rate: 30}) }()
	t.Cleanup(func() { stop(); <-done })

	two := func() ([]wire.Display, error) {
		return []wire.Display{{Index: 0, Width: 1280, Height: 720, Primary: true}, {Index: 1, X: 1280, Width: 1280, Height: 720}}, nil
	}
	cfg := agent.Config{StateDir: filepath.Join(t.TempDir(), "agent"),
		Support: support.Config{Asker: &consenttest.Fixed{Answer: consent.Allowed}}}
	if err := platform.Assemble(&cfg, platform.Options{Display: x.Display, DesktopDir: t.TempDir()}, false, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	cfg.Displays = two
	if _, err := agent.Enroll(context.Background(), cfg, e.URL, admin.enrollToken(1, time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, cfg)
	waitFor(t, "agent online", 10*time.Second, func() bool { return admin.device(a.DeviceID()).Online })

	ctx := browsertest.New(t)
	openViewer(t, ctx, e, a.DeviceID())
	waitViewerState(t, ctx, "live", 20*time.Second)
	waitPatterns(t, ctx) // monitor 1 shows the colour patches

	browsertest.Step(ctx, t, 10*time.Second, chromedp.SetValue(css(`#session-display`), "1"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('session-display').dispatchEvent(new Event('change'))`))
	// Monitor 2 has no patches: where the red one was, the background shows.
	red := testpattern.Patches(1280, 720)[0]
	bg := testpattern.Background
	waitFor(t, "second monitor in the video", 15*time.Second, func() bool {
		c := patchColours(t, ctx)
		return c != nil && near(c[red.Name], [3]uint8{bg.R, bg.G, bg.B}, 30)
	})
	var s struct{ Display int }
	admin.do("GET", "/api/sessions/"+latestSession(t, admin, a.DeviceID()).ID, nil, &s)
	if s.Display != 1 {
		t.Fatalf("session display %d, want 1", s.Display)
	}
}
