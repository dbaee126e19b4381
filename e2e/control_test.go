package e2e

import (
	"context"
	"fmt"
	"image"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/input/inputtest"
	"porthole/internal/browsertest"
	"porthole/internal/xvfb"
)

// clientPoint maps a screen pixel of the remote display to page coordinates
// of the letterboxed video, the way a person aims with the mouse.
func clientPoint(t *testing.T, ctx browserCtx, x, y int) (float64, float64) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const v = document.getElementById('remote-video'); const r = v.getBoundingClientRect();
	  const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
	  const ox = (r.width - v.videoWidth * s) / 2, oy = (r.height - v.videoHeight * s) / 2;
	  return [r.left + ox + (%d + 0.5) * s, r.top + oy + (%d + 0.5) * s]; })()`, x, y)
	p := browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[[]float64](js))
	return p[0], p[1]
}

type browserCtx = interface {
	Deadline() (time.Time, bool)
	Done() <-chan struct{}
	Err() error
	Value(any) any
}

func pointer(t *testing.T, display string) (int, int) {
	t.Helper()
	cmd := exec.Command("xdotool", "getmouselocation")
	cmd.Env = []string{"DISPLAY=" + display}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xdotool: %v", err)
	}
	var x, y int
	if _, err := fmt.Sscanf(string(out), "x:%d y:%d", &x, &y); err != nil {
		t.Fatalf("xdotool output %q", out)
	}
	return x, y
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TestRemoteControl: a click in the video lands on the matching screen pixel
// and typing reaches a focused X window; in view-only the same actions and a
// hand-crafted message that bypasses the page change nothing, and the
// broker counts the drops.
func TestRemoteControl(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	x := xvfb.StartT(t, xvfb.Options{Width: 1280, Height: 720})
	checker := inputtest.NewChecker(t, x.Display, image.Rect(16, 430, 600, 710))
	ep := startAgentOn(t, e, admin, x)
	ctx := browsertest.New(t)
	openViewer(t, ctx, e, ep.deviceID)
	consenttest.Press(t, x.Display, consent.Allowed)
	waitViewerState(t, ctx, "live", 20*time.Second)
	waitFor(t, "video size", 15*time.Second, func() bool {
		return browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[int](`document.getElementById('remote-video').videoWidth`)) == 1280
	})

	// Click at screen (137, 611), clear of the end user's indicator in the middle.
	checker.Reset()
	cx, cy := clientPoint(t, ctx, 137, 611)
	browsertest.Step(ctx, t, 10*time.Second, chromedp.MouseClickXY(cx, cy))
	ev, ok := checker.WaitEvent(10*time.Second, func(e inputtest.Event) bool { return e.Kind == inputtest.ButtonPress })
	if !ok {
		_, body := admin.do("GET", "/api/sessions/"+latestSession(t, admin, ep.deviceID).ID, nil, nil)
		px, py := pointer(t, x.Display)
		t.Fatalf("the click never reached the X display (pointer at %d,%d; client %.1f,%.1f); session: %s", px, py, cx, cy, body)
	}
	if abs(ev.RootX-137) > 2 || abs(ev.RootY-611) > 2 || ev.Button != 1 {
		t.Fatalf("click landed at %d,%d button %d; want 137,611 button 1", ev.RootX, ev.RootY, ev.Button)
	}
	// Typing goes to the focused X window.
	browsertest.Step(ctx, t, 10*time.Second, typeText("Hello, World!"))
	if got, ok := checker.WaitText(10*time.Second, "Hello, World!"); !ok {
		t.Fatalf("typed text arrived as %q", got)
	}

	// View-only: the page sends nothing, the broker drops what gets through.
	browsertest.Step(ctx, t, 10*time.Second,
		chromedp.Click(css(`#session-viewonly`)),
		chromedp.WaitVisible(css(`#session-mode.viewonly`)),
	)
	px, py := pointer(t, x.Display)
	checker.Reset()
	cx, cy = clientPoint(t, ctx, 400, 500)
	browsertest.Step(ctx, t, 10*time.Second, chromedp.MouseClickXY(cx, cy), chromedp.KeyEvent("nope"))
	// A hand-crafted message straight onto the data channel, bypassing input.js.
	for range 5 {
		browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[bool](
			`window.portholeViewer.sendInput({v: 1, t: 'move', x: 60000, y: 60000}) !== false`))
	}
	var snap struct {
		Input map[string]any
	}
	waitFor(t, "broker drop counter", 10*time.Second, func() bool {
		admin.do("GET", "/api/sessions/"+latestSession(t, admin, ep.deviceID).ID, nil, &snap)
		d, _ := snap.Input["dropped"].(float64)
		return d >= 5
	})
	time.Sleep(500 * time.Millisecond) // give anything that slipped through time to land
	if nx, ny := pointer(t, x.Display); nx != px || ny != py {
		t.Fatalf("view-only session moved the pointer from %d,%d to %d,%d", px, py, nx, ny)
	}
	if evs := checker.Events(); len(evs) != 0 {
		t.Fatalf("view-only session delivered %d X events: %+v", len(evs), evs)
	}
	// Leaving view-only works when settings allow it, and the audit log has
	// the mode change and the input summary.
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`#session-off`)))
	waitViewerState(t, ctx, "ended", 10*time.Second)
	log := endedAudit(t, admin, latestSession(t, admin, ep.deviceID).ID)
	for _, want := range []string{"session.view_only map[", "view_only:true", "dropped:"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit lacks %q:\n%s", want, log)
		}
	}
}

// typeText types like a physical keyboard: Shift goes down before a
// shifted character and up after it (chromedp's KeyEvent only sets the
// modifier flag, which no real keyboard does).
func typeText(text string) chromedp.Action[chromedp.Void] {
	shift := func(typ input.DispatchKeyEventType) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			p := input.DispatchKeyEventParams{Type: typ, Key: "Shift", Code: "ShiftLeft", WindowsVirtualKeyCode: 16, NativeVirtualKeyCode: 16}
			if typ == input.DispatchKeyEventTypeRawKeyDown {
				p.Modifiers = int64(chromedp.ModifierShift)
			}
			_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, p)
			return err
		})
	}
	var steps []chromedp.Action[chromedp.Void]
	for _, r := range text {
		shifted := unicode.IsUpper(r) || strings.ContainsRune(`~!@#$%^&*()_+{}|:"<>?`, r)
		if shifted {
			steps = append(steps, shift(input.DispatchKeyEventTypeRawKeyDown), chromedp.KeyEvent(string(r), chromedp.KeyModifiers(chromedp.ModifierShift)), shift(input.DispatchKeyEventTypeKeyUp))
		} else {
			steps = append(steps, chromedp.KeyEvent(string(r)))
		}
	}
	return chromedp.Steps(steps...)
}
