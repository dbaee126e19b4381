package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/internal/browsertest"
	"porthole/internal/testpattern"
	"porthole/internal/wine"
	"porthole/internal/xvfb"
)

// endpoint is an Xvfb display showing the test pattern, with the real agent
// binary enrolled and running against it: the Linux binary, or the Windows
// exe under Wine (then prefix is its Wine prefix).
type endpoint struct {
	x        *xvfb.Server
	deviceID string
	cmd      *exec.Cmd
	exited   chan error
	logPath  string
	stateDir string
	prefix   *wine.Prefix
}

func startEndpoint(t *testing.T, e *env, admin *client, runArgs ...string) *endpoint {
	t.Helper()
	x := xvfb.StartT(t, xvfb.Options{Width: 1280, Height: 720})
	startPattern(t, x)
	return startAgentOn(t, e, admin, x, runArgs...)
}

// startPattern paints the moving test pattern on x until the test ends.
func startPattern(t *testing.T, x *xvfb.Server) {
	t.Helper()
	pctx, stopPattern := context.WithCancel(context.Background())
	patternDone := make(chan error, 1)
	go func() { patternDone <- testpattern.Run(pctx, testpattern.Options{Display: x.Display, Rate: 30}) }()
	t.Cleanup(func() { stopPattern(); <-patternDone })
}

// startAgentOn enrolls and runs the real agent binary against display x;
// runArgs go to its run command.
func startAgentOn(t *testing.T, e *env, admin *client, x *xvfb.Server, runArgs ...string) *endpoint {
	t.Helper()
	state := filepath.Join(t.TempDir(), "agent")
	ep := &endpoint{x: x, stateDir: state}
	enroll := exec.Command(agentBin, "enroll", "--broker", e.URL, "--token", admin.enrollToken(1, time.Hour), "--state-dir", state)
	enroll.Env = x.Env()
	ep.enroll(t, enroll)
	run := exec.Command(agentBin, append([]string{"run", "--state-dir", state, "--log-level", "debug", "--elevation=false"}, runArgs...)...)
	run.Env = x.Env()
	ep.run(t, admin, run, 15*time.Second)
	return ep
}

// enroll runs the agent's enroll command and takes the device id it prints.
func (ep *endpoint) enroll(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("agent enroll: %v\n%s", err, out)
	}
	var id string
	if _, err := fmt.Sscanf(strings.TrimPrefix(string(out), "Enrolled as device "), "%s", &id); err != nil {
		t.Fatalf("enroll output: %q", out)
	}
	ep.deviceID = strings.TrimSuffix(id, ".")
}

// run starts the agent's run command, logging to a file shown when the
// test fails, and waits up to online for the broker to see it.
func (ep *endpoint) run(t *testing.T, admin *client, cmd *exec.Cmd, online time.Duration) {
	t.Helper()
	ep.exited = make(chan error, 1)
	ep.logPath = filepath.Join(t.TempDir(), "agent.log")
	logf, err := os.Create(ep.logPath)
	if err != nil {
		t.Fatal(err)
	}
	ep.cmd = cmd
	ep.cmd.Stdout, ep.cmd.Stderr = logf, logf
	if err := ep.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { ep.exited <- ep.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		ep.kill(syscall.SIGTERM)
		showLog(t, "agent", ep.logPath)
	})
	waitFor(t, "agent online", online, func() bool { return admin.device(ep.deviceID).Online })
}

func (ep *endpoint) kill(sig syscall.Signal) {
	if ep.cmd.ProcessState != nil {
		return
	}
	_ = ep.cmd.Process.Signal(sig)
	select {
	case <-ep.exited:
	case <-time.After(10 * time.Second):
		_ = ep.cmd.Process.Kill()
		<-ep.exited
	}
}

// openViewer logs the browser in and starts a session from the Inventory's Support button.
func openViewer(t *testing.T, ctx context.Context, e *env, deviceID string) {
	t.Helper()
	browsertest.Step(ctx, t, 30*time.Second,
		loginSteps(e, "admin", e.Password),
		chromedp.WaitVisible(css(`button[data-support="`+deviceID+`"]`)),
		chromedp.Click(css(`button[data-support="`+deviceID+`"]`)),
		chromedp.WaitVisible(css(`#session-state`)),
	)
}

func viewerState(t *testing.T, ctx context.Context) string {
	return browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[string](`window.portholeViewer ? window.portholeViewer.state : ''`))
}

func waitViewerState(t *testing.T, ctx context.Context, want string, d time.Duration) {
	t.Helper()
	waitFor(t, "viewer state "+want, d, func() bool { return viewerState(t, ctx) == want })
}

func viewerReason(t *testing.T, ctx context.Context) string {
	return browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#session-reason`)))
}

// patchColours reads the test pattern's colour patches from the decoded video.
func patchColours(t *testing.T, ctx context.Context) map[string][3]int {
	t.Helper()
	return videoPatchColours(t, ctx, "remote-video")
}

// videoPatchColours reads the colour patches from the video element videoID.
func videoPatchColours(t *testing.T, ctx context.Context, videoID string) map[string][3]int {
	t.Helper()
	var js strings.Builder
	fmt.Fprintf(&js, `(() => { const v = document.getElementById(%q);`, videoID)
	js.WriteString(`
	  if (!v || !v.videoWidth || v.readyState < 2) return null;
	  const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
	  const g = c.getContext('2d'); g.drawImage(v, 0, 0); const sx = v.videoWidth / 1280, sy = v.videoHeight / 720; const out = {};`)
	for _, p := range testpattern.Patches(1280, 720) {
		c := p.Center()
		fmt.Fprintf(&js, `out[%q] = Array.from(g.getImageData(Math.round(%d*sx), Math.round(%d*sy), 1, 1).data.slice(0, 3));`, p.Name, c.X, c.Y)
	}
	js.WriteString(`return out; })()`)
	got := browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[map[string][3]int](js.String()))
	return got
}

func near(got [3]int, want [3]uint8, tol int) bool {
	for i := range 3 {
		d := got[i] - int(want[i])
		if d < -tol || d > tol {
			return false
		}
	}
	return true
}

// waitPatterns waits until the browser shows every colour patch.
func waitPatterns(t *testing.T, ctx context.Context) {
	t.Helper()
	waitVideoPatterns(t, ctx, "remote-video", 40)
}

// waitVideoPatterns waits until the video element videoID shows every
// colour patch, each channel within tol of the painted colour. A live
// viewer sharpens as the encoder refines still content; a paused recorded
// frame stays as it was encoded, so replay checks allow more.
func waitVideoPatterns(t *testing.T, ctx context.Context, videoID string, tol int) {
	t.Helper()
	var last map[string][3]int
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		last = videoPatchColours(t, ctx, videoID)
		ok := last != nil
		for _, p := range testpattern.Patches(1280, 720) {
			ok = ok && near(last[p.Name], [3]uint8{p.Color.R, p.Color.G, p.Color.B}, tol)
		}
		if ok {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the browser never showed the test pattern; last read %v", last)
}

func auditActions(t *testing.T, c *client, target string) string {
	t.Helper()
	var recs []struct {
		Action  string
		Details map[string]any
	}
	if st, body := c.do("GET", "/api/audit?order=asc&limit=1000&target="+target, nil, &recs); st != 200 {
		t.Fatalf("audit: %d %s", st, body)
	}
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%s %v\n", r.Action, r.Details)
	}
	return b.String()
}

type sessionView struct {
	ID        string
	State     string
	EndReason string `json:"end_reason"`
	Relay     *struct {
		PacketsForwarded uint64 `json:"packets_forwarded"`
	}
}

// endedAudit waits for session id's session.ended record and returns the
// session's audit log: the viewer hears "ended" first, and the broker
// writes the record once the relay and the recording are closed.
func endedAudit(t *testing.T, c *client, id string) string {
	t.Helper()
	var log string
	waitForThen(t, "the session.ended record", 15*time.Second, func() bool {
		log = auditActions(t, c, id)
		return strings.Contains(log, "session.ended map[")
	}, func() { brokerStacks(t, "no session.ended record") })
	return log
}

func latestSession(t *testing.T, c *client, deviceID string) sessionView {
	t.Helper()
	var ss []sessionView
	if st, body := c.do("GET", "/api/sessions?device="+deviceID, nil, &ss); st != 200 || len(ss) == 0 {
		t.Fatalf("sessions: %d %s", st, body)
	}
	return ss[0]
}

// TestSupportSessionAgentKilled: a crashed agent ends the viewer cleanly and
// the broker keeps no WebRTC goroutine behind.
func TestSupportSessionAgentKilled(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	ep := startEndpoint(t, e, admin)
	ctx := browsertest.New(t)
	// The broker's shared UDP mux runs for the broker's lifetime; count only
	// what a session adds on top of it.
	baseline := pionGoroutines()
	openViewer(t, ctx, e, ep.deviceID)
	consenttest.Press(t, ep.x.Display, consent.Allowed)
	waitViewerState(t, ctx, "live", 20*time.Second)
	waitPatterns(t, ctx)
	if n := pionGoroutines(); n <= baseline {
		t.Fatal("no pion goroutines during a live session: the count below would prove nothing")
	}
	ep.kill(syscall.SIGKILL)
	waitViewerState(t, ctx, "ended", 20*time.Second)
	if r := viewerReason(t, ctx); !strings.Contains(r, "endpoint") {
		t.Fatalf("viewer reason %q", r)
	}
	waitFor(t, "broker WebRTC goroutines to exit", 15*time.Second, func() bool { return pionGoroutines() <= baseline })
}

// pionGoroutines counts this process's goroutines running pion or relay code.
func pionGoroutines() int { return len(pionStacks()) }

func pionStacks() []string {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/pion/") || strings.Contains(g, "porthole/broker/relay.") {
			out = append(out, g)
		}
	}
	return out
}
