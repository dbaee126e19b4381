package e2e

// One support-session test for every kind of endpoint, so the Linux agent
// and the Windows agent cannot drift apart: the same steps and assertions
// run against the Linux binary on Xvfb and against the Windows exe under
// Wine on Xvfb (issue #17's acceptance).

import (
	"context"
	"image"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/agent/capture"
	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/input/inputtest"
	"porthole/internal/browsertest"
	"porthole/internal/wine"
	"porthole/internal/wire"
	"porthole/internal/xvfb"
)

// endpointKind is one way the agent runs on an endpoint.
type endpointKind struct {
	name string
	// os is in the inventory's OS name, capture is its capture method,
	// captureLabel how the device page names it.
	os, capture, captureLabel string
	// start enrolls and runs the agent on display x.
	start func(t *testing.T, e *env, admin *client, x *xvfb.Server) *endpoint
	// textWindow opens a window at r, on the endpoint's display, that
	// shows what is typed into it once a click has landed on it.
	textWindow func(t *testing.T, ep *endpoint, r image.Rectangle) textWindow
}

// textWindow is where typed text shows: an X window recording key presses
// (Linux), a Windows edit control in a Wine window (Wine delivers SendInput
// only to Wine windows).
type textWindow interface {
	WaitText(want string, d time.Duration) (string, bool)
}

// checkerText adapts inputtest.Checker.
type checkerText struct{ *inputtest.Checker }

func (c checkerText) WaitText(want string, d time.Duration) (string, bool) {
	return c.Checker.WaitText(d, want)
}

var endpointKinds = []endpointKind{
	{
		name: "linux", os: "", capture: capture.MethodX11, captureLabel: "X11 (MIT-SHM",
		start: func(t *testing.T, e *env, admin *client, x *xvfb.Server) *endpoint {
			return startAgentOn(t, e, admin, x)
		},
		textWindow: func(t *testing.T, ep *endpoint, r image.Rectangle) textWindow {
			return checkerText{inputtest.NewChecker(t, ep.x.Display, r)}
		},
	},
	{
		name: "windows", os: "Windows", capture: capture.MethodGDI, captureLabel: "GDI BitBlt",
		start: startWindowsAgentOn,
		textWindow: func(t *testing.T, ep *endpoint, r image.Rectangle) textWindow {
			return wine.StartEditT(t, ep.prefix, ep.x.Display, "Porthole e2e edit", r)
		},
	},
}

// The Windows agent exe, built once per test binary (cgo with the static
// mingw libvpx, as make agent-windows builds it).
var (
	winAgentOnce sync.Once
	winAgentExe  string
	winAgentErr  error
)

func windowsAgentT(t *testing.T) string {
	t.Helper()
	winAgentOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		winAgentExe = filepath.Join(agentDir, "porthole-agent.exe")
		winAgentErr = wine.BuildGo(ctx, wine.BuildOptions{Pkg: "porthole/cmd/porthole-agent", Out: winAgentExe, CGO: true})
	})
	if winAgentErr != nil {
		t.Fatal(winAgentErr)
	}
	return winAgentExe
}

// startWindowsAgentOn enrolls and runs the Windows agent exe under Wine, in
// a fresh prefix, against display x.
func startWindowsAgentOn(t *testing.T, e *env, admin *client, x *xvfb.Server) *endpoint {
	t.Helper()
	exe := windowsAgentT(t)
	p := wine.NewPrefixT(t)
	state := wine.WinPath(filepath.Join(t.TempDir(), "agent"))
	ep := &endpoint{x: x, stateDir: state, prefix: p}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ep.enroll(t, p.Command(ctx, x.Display, exe, "enroll", "--broker", e.URL, "--token", admin.enrollToken(1, time.Hour), "--state-dir", state))
	// Not exec.CommandContext's: the run outlives this function; the
	// endpoint's cleanup ends it, and the prefix's ends what is left.
	run := p.Command(context.Background(), x.Display, exe, "run", "--state-dir", state, "--log-level", "debug", "--elevation=false")
	ep.run(t, admin, run, time.Minute)
	return ep
}

// framesDecoded is the viewer's getStats framesDecoded of its video.
func framesDecoded(t *testing.T, ctx context.Context) float64 {
	t.Helper()
	return browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[float64](`(async () => {
	  const r = await window.portholeViewer.pc.getStats();
	  for (const s of r.values()) if (s.type === 'inbound-rtp' && s.kind === 'video') return s.framesDecoded || 0;
	  return 0; })()`, chromedp.EvalAwaitPromise))
}

// viewerFPS is the frames the browser decoded per second over d, as the
// bench measures it (getStats), while the pattern moves at 30 Hz.
func viewerFPS(t *testing.T, ctx context.Context, d time.Duration) float64 {
	t.Helper()
	f0, t0 := framesDecoded(t, ctx), time.Now()
	time.Sleep(d)
	f1 := framesDecoded(t, ctx)
	return (f1 - f0) / time.Since(t0).Seconds()
}

// minFPS is what the Windows agent under Wine must reach at 1280×720 (#17).
const minFPS = 15

// TestEndpointSessions, for each kind of endpoint: the agent enrolls and is
// online with its OS, displays and capture method in the inventory; a
// portal user clicks Support in Chromium, the end user answers Yes in the
// real dialog, the viewer shows the test pattern at ≥ 15 fps, a click puts
// the endpoint's pointer on the right pixel and typed text lands in a
// window there, and Off ends the session on both sides; Done on the
// endpoint ends the next one; No shows declined and sends no media.
func TestEndpointSessions(t *testing.T) {
	for _, k := range endpointKinds {
		t.Run(k.name, func(t *testing.T) { testEndpoint(t, k) })
	}
}

func testEndpoint(t *testing.T, k endpointKind) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	x := xvfb.StartT(t, xvfb.Options{Width: 1280, Height: 720})
	startPattern(t, x)
	start := time.Now()
	ep := k.start(t, e, admin, x)
	t.Logf("%s agent online in %v", k.name, time.Since(start).Round(time.Millisecond))

	var d deviceView
	waitFor(t, "the capture method in the inventory", 15*time.Second, func() bool {
		d = admin.device(ep.deviceID)
		return d.CaptureMethod != ""
	})
	want := []wire.Display{{Index: 0, Width: 1280, Height: 720, Primary: true}}
	if !strings.Contains(d.OS, k.os) || d.CaptureMethod != k.capture || len(d.Displays) != 1 || d.Displays[0] != want[0] {
		t.Fatalf("inventory: OS %q, capture %q, displays %+v; want OS …%q…, capture %q, displays %+v", d.OS, d.CaptureMethod, d.Displays, k.os, k.capture, want)
	}
	if k.os == "" && strings.Contains(d.OS, "Windows") {
		t.Fatalf("the Linux agent reports OS %q", d.OS)
	}

	t.Run("yes, input, off", func(t *testing.T) {
		ctx := browsertest.New(t)
		openViewer(t, ctx, e, ep.deviceID)
		waitViewerState(t, ctx, "waiting_consent", 10*time.Second)
		consenttest.Press(t, x.Display, consent.Allowed)
		waitViewerState(t, ctx, "live", 30*time.Second)
		waitPatterns(t, ctx)
		// The end user's indicator is up while the session runs.
		consenttest.WaitWindow(t, x.Display, consent.IndicatorTitle)
		fps := viewerFPS(t, ctx, 4*time.Second)
		t.Logf("%s agent: %.1f fps decoded in the browser at 1280x720", k.name, fps)
		if fps < minFPS {
			t.Errorf("%.1f fps at 1280x720, want ≥ %d", fps, minFPS)
		}

		// A click lands on the pixel aimed at (clear of the patches, the
		// moving box and the indicator), focusing the window there, and
		// typing reaches it.
		target := k.textWindow(t, ep, image.Rect(700, 450, 1200, 650))
		cx, cy := clientPoint(t, ctx, 900, 561)
		browsertest.Step(ctx, t, 10*time.Second, chromedp.MouseClickXY(cx, cy))
		var px, py int
		waitForThen(t, "the pointer at 900,561", 10*time.Second, func() bool {
			px, py = pointer(t, x.Display)
			return abs(px-900) <= 1 && abs(py-561) <= 1
		}, func() { t.Logf("pointer at %d,%d", px, py) })
		browsertest.Step(ctx, t, 10*time.Second, typeText("Hello, World!"))
		if got, ok := target.WaitText("Hello, World!", 15*time.Second); !ok {
			t.Fatalf("typed text arrived as %q", got)
		}

		browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`#session-off`)))
		waitViewerState(t, ctx, "ended", 10*time.Second)
		if r := viewerReason(t, ctx); !strings.Contains(r, "ended by admin (Off)") {
			t.Fatalf("viewer reason %q", r)
		}
		consenttest.WaitGone(t, x.Display, consent.IndicatorTitle)
		s := latestSession(t, admin, ep.deviceID)
		log := endedAudit(t, admin, s.ID)
		for _, want := range []string{"session.requested", "session.consent map[answer:allowed", "session.started", "session.ended", "reason:ended by admin (Off)"} {
			if !strings.Contains(log, want) {
				t.Errorf("audit lacks %q:\n%s", want, log)
			}
		}
	})

	t.Run("yes, done", func(t *testing.T) {
		ctx := browsertest.New(t)
		openViewer(t, ctx, e, ep.deviceID)
		consenttest.Press(t, x.Display, consent.Allowed)
		waitViewerState(t, ctx, "live", 30*time.Second)
		waitPatterns(t, ctx)
		consenttest.PressDone(t, x.Display)
		waitViewerState(t, ctx, "ended", 10*time.Second)
		if r := viewerReason(t, ctx); !strings.Contains(r, "ended by the end user (Done)") {
			t.Fatalf("viewer reason %q", r)
		}
		s := latestSession(t, admin, ep.deviceID)
		if log := endedAudit(t, admin, s.ID); !strings.Contains(log, "reason:ended by the end user (Done)") {
			t.Fatalf("audit:\n%s", log)
		}
	})

	t.Run("no", func(t *testing.T) {
		ctx := browsertest.New(t)
		openViewer(t, ctx, e, ep.deviceID)
		waitViewerState(t, ctx, "waiting_consent", 10*time.Second)
		consenttest.Press(t, x.Display, consent.Declined)
		waitViewerState(t, ctx, "declined", 10*time.Second)
		if txt := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#session-state`))); txt != "Declined by the end user" {
			t.Fatalf("state text %q", txt)
		}
		s := latestSession(t, admin, ep.deviceID)
		if s.State != "declined" || s.Relay != nil {
			t.Fatalf("declined session has a media relay or wrong state: %+v", s)
		}
		if hasPC := browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[bool](`!!window.portholeViewer.pc`)); hasPC {
			t.Fatal("the browser got an offer for a declined session")
		}
		if log := endedAudit(t, admin, s.ID); !strings.Contains(log, "answer:declined") || !strings.Contains(log, "declined by the end user") {
			t.Fatalf("audit:\n%s", log)
		}
		// The device page shows how the endpoint captures its screen.
		browsertest.Step(ctx, t, 20*time.Second,
			chromedp.Navigate(e.URL+"/#/devices/"+ep.deviceID),
			chromedp.WaitVisible(css(`#device-capture`)),
		)
		if c := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#device-capture`))); !strings.Contains(c, k.captureLabel) {
			t.Fatalf("the device page says screen capture %q, want %q", c, k.captureLabel)
		}
	})
}
