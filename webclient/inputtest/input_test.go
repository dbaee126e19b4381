package inputtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"porthole/internal/browsertest"
	"porthole/internal/wire"
	"porthole/webclient"
)

// The stream of the test page is videoW×videoH; page.css places it.
const (
	videoW = 1280
	videoH = 720
)

// CDP modifier bits (not the wire's).
const (
	cdpAlt   = 1
	cdpCtrl  = 2
	cdpShift = 8
)

// browserPage is one Chromium tab on the test page server.
type browserPage struct {
	ctx context.Context
	url string
}

// newBrowserPage serves the test page and /static/ (the portal's embedded
// files) under a strict CSP, so an inline script or eval in input.js fails.
func newBrowserPage(t *testing.T) *browserPage {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static", webclient.Handler()))
	mux.Handle("/", http.FileServer(http.Dir("testdata")))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &browserPage{ctx: browsertest.New(t), url: srv.URL}
}

// open loads the page with a layout of page.css and waits for the video to
// have its size and input.js to be attached.
func (p *browserPage) open(t *testing.T, layout string) {
	t.Helper()
	browsertest.Step(p.ctx, t, 20*time.Second,
		chromedp.Navigate(p.url+"/page.html?layout="+url.QueryEscape(layout)),
		chromedp.Poll[chromedp.Void](`window.ready === '1280x720'`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			// Headless tabs are not focused: emulate it so focus and blur fire.
			_, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
			return err
		}),
	)
}

func (p *browserPage) mouse(t *testing.T, typ input.DispatchMouseEventType, x, y float64, button input.MouseButton, buttons int64) {
	t.Helper()
	browsertest.Step(p.ctx, t, 5*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, input.DispatchMouseEvent, input.DispatchMouseEventParams{
			Type: typ, X: x, Y: y, Button: button, Buttons: buttons, ClickCount: 1,
		})
		return err
	}))
}

// click presses and releases a button at (x, y) CSS px of the viewport.
func (p *browserPage) click(t *testing.T, x, y float64, button input.MouseButton) {
	t.Helper()
	bits := map[input.MouseButton]int64{input.MouseButtonLeft: 1, input.MouseButtonRight: 2, input.MouseButtonMiddle: 4}[button]
	p.mouse(t, chromedp.MouseMoved, x, y, input.MouseButtonNone, 0)
	p.mouse(t, chromedp.MousePressed, x, y, button, bits)
	p.mouse(t, chromedp.MouseReleased, x, y, button, 0)
}

// wheelParams is input.DispatchMouseEventParams for wheel events: CDP needs
// both deltas, and the generated type leaves out a zero delta.
type wheelParams struct {
	Type   input.DispatchMouseEventType `json:"type"`
	X      float64                      `json:"x"`
	Y      float64                      `json:"y"`
	DeltaX float64                      `json:"deltaX"`
	DeltaY float64                      `json:"deltaY"`
}

var dispatchWheel = cdp.Command[wheelParams, cdp.Empty]{Method: input.CommandDispatchMouseEvent}

func (p *browserPage) wheel(t *testing.T, x, y, dx, dy float64) {
	t.Helper()
	browsertest.Step(p.ctx, t, 5*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, dispatchWheel, wheelParams{Type: chromedp.MouseWheel, X: x, Y: y, DeltaX: dx, DeltaY: dy})
		return err
	}))
}

// key is a physical key as CDP describes it.
type key struct {
	key, code string
	vk        int64
	location  int64
}

var (
	keyCtrl    = key{"Control", "ControlLeft", 17, 1}
	keyShift   = key{"Shift", "ShiftLeft", 16, 1}
	keyA       = key{"a", "KeyA", 65, 0}
	keyV       = key{"v", "KeyV", 86, 0}
	keyF5      = key{"F5", "F5", 116, 0}
	keyVolume  = key{"AudioVolumeUp", "AudioVolumeUp", 175, 0} // not on the allow-list
	keyEnter   = key{"Enter", "Enter", 13, 0}
	keyTab     = key{"Tab", "Tab", 9, 0}
	keyUpArrow = key{"ArrowUp", "ArrowUp", 38, 0}
)

func (p *browserPage) key(t *testing.T, typ input.DispatchKeyEventType, k key, mods int64, commands ...string) {
	t.Helper()
	browsertest.Step(p.ctx, t, 5*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: k.key, Code: k.code, WindowsVirtualKeyCode: k.vk,
			NativeVirtualKeyCode: k.vk, Location: k.location, Modifiers: mods, Commands: commands,
		})
		return err
	}))
}

func (p *browserPage) keyDown(t *testing.T, k key, mods int64, commands ...string) {
	t.Helper()
	p.key(t, input.DispatchKeyEventTypeRawKeyDown, k, mods, commands...)
}

func (p *browserPage) keyUp(t *testing.T, k key, mods int64) {
	t.Helper()
	p.key(t, input.DispatchKeyEventTypeKeyUp, k, mods)
}

func (p *browserPage) eval(t *testing.T, js string) {
	t.Helper()
	browsertest.Step(p.ctx, t, 5*time.Second, chromedp.Evaluate[chromedp.Void](js))
}

// sentMsg is one message recorded by the page's send.
type sentMsg struct {
	S  string  `json:"s"`
	At float64 `json:"at"`
}

// drain waits for pending coalesced moves, then takes the recorded messages.
// Every one must pass wire.DecodeInput.
func (p *browserPage) drain(t *testing.T) ([]wire.Input, []sentMsg) {
	t.Helper()
	raw := browsertest.Value(p.ctx, t, 5*time.Second, chromedp.Evaluate[[]sentMsg](
		`new Promise((r) => setTimeout(() => r(window.sent.splice(0)), 40))`, chromedp.EvalAwaitPromise))
	var ins []wire.Input
	for _, m := range raw {
		in, err := wire.DecodeInput([]byte(m.S))
		if err != nil {
			t.Fatalf("page sent %s: %v", m.S, err)
		}
		ins = append(ins, in)
	}
	return ins, raw
}

func (p *browserPage) strings(t *testing.T, expr string) []string {
	t.Helper()
	return browsertest.Value(p.ctx, t, 5*time.Second, chromedp.Evaluate[[]string](expr, chromedp.EvalAwaitPromise))
}

// wantInputs compares decoded messages with the expected ones.
func wantInputs(t *testing.T, got, want []wire.Input) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("messages (-want +got):\n%s", diff)
	}
}

// checkMove asserts a move maps back to pixel (px, py) of the video ±1.
func checkMove(t *testing.T, in wire.Input, display, px, py int) {
	t.Helper()
	if in.Kind != wire.InputMove || in.Display != display {
		t.Fatalf("got %+v, want a move on display %d", in, display)
	}
	x, y := wire.ScreenCoord(in.X, videoW), wire.ScreenCoord(in.Y, videoH)
	if abs(x-px) > 1 || abs(y-py) > 1 {
		t.Fatalf("move (%d,%d) maps to pixel (%d,%d), want (%d,%d) ±1", in.X, in.Y, x, y, px, py)
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func down(b wire.Button) wire.Input { return wire.Input{Kind: wire.InputButtonDown, Button: b} }
func up(b wire.Button) wire.Input   { return wire.Input{Kind: wire.InputButtonUp, Button: b} }
func kdown(c string, m wire.Modifiers) wire.Input {
	return wire.Input{Kind: wire.InputKeyDown, Code: c, Mods: m}
}
func kup(c string, m wire.Modifiers) wire.Input {
	return wire.Input{Kind: wire.InputKeyUp, Code: c, Mods: m}
}

var release = wire.Input{Kind: wire.InputReleaseAll}

// TestInput drives input.js with real Chromium input events.
func TestInput(t *testing.T) {
	p := newBrowserPage(t)

	t.Run("allow-list loads in the browser", func(t *testing.T) {
		p.open(t, "contain")
		got := p.strings(t, `import('/static/keys.js').then((m) => [...m.KEY_CODES])`)
		if diff := cmp.Diff(wire.KeyCodes(), got); diff != "" {
			t.Fatalf("KEY_CODES in the browser (-wire +js):\n%s", diff)
		}
	})

	t.Run("normCoord equals wire.NormCoord", func(t *testing.T) {
		p.open(t, "contain")
		sizes := []int{0, 1, 2, 3, 720, 768, 1080, 1280, 1366, 1920, 2560, 3840, 7680}
		got := browsertest.Value(p.ctx, t, 10*time.Second, chromedp.Evaluate[[][]int](fmt.Sprintf(
			`import('/static/input.js').then((m) => %s.map((size) => {
				const out = [];
				for (let px = -2; px <= size + 1; px++) out.push(m.normCoord(px, size));
				return out;
			}))`, strings.ReplaceAll(fmt.Sprint(sizes), " ", ",")), chromedp.EvalAwaitPromise))
		if len(got) != len(sizes) {
			t.Fatalf("got %d lists for %d sizes", len(got), len(sizes))
		}
		for i, size := range sizes {
			if len(got[i]) != size+4 {
				t.Fatalf("size %d: %d values", size, len(got[i]))
			}
			for j, n := range got[i] {
				if px := j - 2; n != wire.NormCoord(px, size) {
					t.Fatalf("normCoord(%d, %d) = %d, wire.NormCoord says %d", px, size, n, wire.NormCoord(px, size))
				}
			}
		}
	})

	t.Run("clicks map through letterboxing", func(t *testing.T) {
		p.open(t, "contain")
		// 800x600 box, 1280x720 picture drawn 800x450 at y 75: scale 0.625.
		tests := []struct {
			name   string
			x, y   float64
			button input.MouseButton
			b      wire.Button
			px, py int
		}{
			{"centre", 400, 300, input.MouseButtonLeft, wire.ButtonLeft, 640, 360},
			{"top left", 0.5, 75.5, input.MouseButtonLeft, wire.ButtonLeft, 0, 0},
			{"bottom right", 799.5, 524.5, input.MouseButtonLeft, wire.ButtonLeft, 1279, 719},
			{"right button", 100, 100, input.MouseButtonRight, wire.ButtonRight, 160, 40},
			{"middle button", 700, 500, input.MouseButtonMiddle, wire.ButtonMiddle, 1120, 680},
		}
		for _, tc := range tests {
			p.click(t, tc.x, tc.y, tc.button)
			got, _ := p.drain(t)
			if len(got) != 3 {
				t.Fatalf("%s: got %+v, want move, down, up", tc.name, got)
			}
			checkMove(t, got[0], 0, tc.px, tc.py)
			wantInputs(t, got[1:], []wire.Input{down(tc.b), up(tc.b)})
		}
		if prevented := browsertest.Value(p.ctx, t, 5*time.Second, chromedp.Evaluate[bool](`window.contextMenuPrevented`)); !prevented {
			t.Fatal("the right click's context menu was not prevented")
		}
		if active := browsertest.Value(p.ctx, t, 5*time.Second, chromedp.Evaluate[string](`document.activeElement.id + ':' + document.activeElement.tabIndex`)); active != "remote-video:0" {
			t.Fatalf("after a click the focus is on %q, want the video with tabindex 0", active)
		}
	})

	t.Run("letterbox bars send nothing", func(t *testing.T) {
		p.open(t, "contain")
		for _, pt := range [][2]float64{{400, 30}, {400, 74.5}, {400, 525.5}, {10, 590}} {
			p.click(t, pt[0], pt[1], input.MouseButtonLeft)
			p.mouse(t, chromedp.MouseMoved, pt[0]+1, pt[1], input.MouseButtonNone, 0)
		}
		p.wheel(t, 400, 30, 0, 100)
		if got, _ := p.drain(t); len(got) != 0 {
			t.Fatalf("letterbox input sent %+v", got)
		}
	})

	t.Run("1:1 with scrolling", func(t *testing.T) {
		p.open(t, "one")
		// The 400x300 scroller is at (50, 40); scroll the picture by (500, 200).
		p.eval(t, `document.getElementById('scroller').scrollTo(500, 200)`)
		p.click(t, 60, 50, input.MouseButtonLeft)
		got, _ := p.drain(t)
		if len(got) != 3 {
			t.Fatalf("got %+v", got)
		}
		checkMove(t, got[0], 0, 510, 210)
	})

	t.Run("CSS transform, border and padding", func(t *testing.T) {
		p.open(t, "scaled")
		// Content at (7.5, 7.5) drawn at half size: picture 400x225 at y 45.
		for _, tc := range []struct {
			x, y   float64
			px, py int
		}{{207.5, 157.5, 640, 360}, {7.75, 45.25, 0, 0}, {407.25, 269.75, 1279, 719}} {
			p.click(t, tc.x, tc.y, input.MouseButtonLeft)
			got, _ := p.drain(t)
			if len(got) != 3 {
				t.Fatalf("click (%v,%v): got %+v", tc.x, tc.y, got)
			}
			checkMove(t, got[0], 0, tc.px, tc.py)
		}
		p.click(t, 200, 30, input.MouseButtonLeft) // bar above the picture
		p.click(t, 3, 100, input.MouseButtonLeft)  // border
		if got, _ := p.drain(t); len(got) != 0 {
			t.Fatalf("bar and border clicks sent %+v", got)
		}
	})

	t.Run("moves are throttled to one per 8 ms and carry the display", func(t *testing.T) {
		p.open(t, "contain")
		p.click(t, 10, 100, input.MouseButtonLeft) // focus
		p.drain(t)
		p.eval(t, `window.ctl.setDisplay(3)`)
		const n = 40
		for i := range n {
			p.mouse(t, chromedp.MouseMoved, float64(100+10*i), 300, input.MouseButtonNone, 0)
		}
		got, raw := p.drain(t)
		if len(got) == 0 || len(got) > n {
			t.Fatalf("%d moves for %d pointer moves", len(got), n)
		}
		for i, in := range got {
			if i > 0 && raw[i].At-raw[i-1].At < 7.5 {
				t.Fatalf("moves %d and %d sent %.1f ms apart, want ≥ 8 ms", i-1, i, raw[i].At-raw[i-1].At)
			}
			if in.Kind != wire.InputMove || in.Display != 3 {
				t.Fatalf("got %+v", in)
			}
		}
		checkMove(t, got[len(got)-1], 3, (100+10*(n-1))*videoW/800, 360)
		t.Logf("%d pointer moves sent as %d messages", n, len(got))
	})

	t.Run("chorded buttons and drags past the picture", func(t *testing.T) {
		p.open(t, "contain")
		p.mouse(t, chromedp.MouseMoved, 400, 300, input.MouseButtonNone, 0)
		p.mouse(t, chromedp.MousePressed, 400, 300, input.MouseButtonLeft, 1)
		p.mouse(t, chromedp.MousePressed, 400, 300, input.MouseButtonRight, 3)  // second button: a pointermove in Chromium
		p.mouse(t, chromedp.MouseReleased, 400, 300, input.MouseButtonRight, 1) // likewise
		p.mouse(t, chromedp.MouseMoved, 400, 10, input.MouseButtonLeft, 1)      // into the bar above: clamped to row 0
		p.mouse(t, chromedp.MouseReleased, 400, 10, input.MouseButtonLeft, 0)
		got, _ := p.drain(t)
		if len(got) != 6 {
			t.Fatalf("got %+v", got)
		}
		checkMove(t, got[0], 0, 640, 360)
		wantInputs(t, got[1:4], []wire.Input{down(wire.ButtonLeft), down(wire.ButtonRight), up(wire.ButtonRight)})
		checkMove(t, got[4], 0, 640, 0)
		wantInputs(t, got[5:], []wire.Input{up(wire.ButtonLeft)})
	})

	t.Run("wheel notches", func(t *testing.T) {
		p.open(t, "contain")
		p.click(t, 400, 300, input.MouseButtonLeft)
		p.drain(t)
		for _, d := range [][2]float64{{0, 100}, {0, 53}, {0, -250}, {0, 100000}, {30, 0}, {30, 0}, {30, 0}, {30, 0}} {
			p.wheel(t, 400, 300, d[0], d[1])
		}
		got, _ := p.drain(t)
		wheel := func(dx, dy int) wire.Input { return wire.Input{Kind: wire.InputWheel, DX: dx, DY: dy} }
		// -250 after +53: the turn drops the rest, -2 notches, -50 kept; then
		// +100000 turns again and is clamped to 32; 4×30 px is one notch.
		wantInputs(t, got, []wire.Input{wheel(0, 1), wheel(0, 1), wheel(0, -2), wheel(0, 32), wheel(1, 0)})
	})

	t.Run("keys with modifiers", func(t *testing.T) {
		p.open(t, "contain")
		p.click(t, 400, 300, input.MouseButtonLeft)
		p.drain(t)
		p.keyDown(t, keyCtrl, cdpCtrl)
		p.keyDown(t, keyA, cdpCtrl)
		p.keyUp(t, keyA, cdpCtrl)
		p.keyUp(t, keyCtrl, 0)
		p.keyDown(t, keyShift, cdpShift)
		p.keyDown(t, keyF5, cdpShift|cdpAlt)
		p.keyUp(t, keyF5, cdpShift)
		p.keyUp(t, keyShift, 0)
		p.keyDown(t, keyVolume, 0) // not allowed: dropped, left to the browser
		p.keyUp(t, keyVolume, 0)
		for _, k := range []key{keyEnter, keyTab, keyUpArrow} {
			p.keyDown(t, k, 0)
			p.keyUp(t, k, 0)
		}
		got, _ := p.drain(t)
		wantInputs(t, got, []wire.Input{
			kdown("ControlLeft", wire.ModCtrl), kdown("KeyA", wire.ModCtrl), kup("KeyA", wire.ModCtrl), kup("ControlLeft", 0),
			kdown("ShiftLeft", wire.ModShift), kdown("F5", wire.ModShift|wire.ModAlt), kup("F5", wire.ModShift), kup("ShiftLeft", 0),
			kdown("Enter", 0), kup("Enter", 0), kdown("Tab", 0), kup("Tab", 0), kdown("ArrowUp", 0), kup("ArrowUp", 0),
		})
		if allowed := p.strings(t, `window.allowed`); !cmp.Equal(allowed, []string{"keydown:AudioVolumeUp", "keyup:AudioVolumeUp"}) {
			t.Fatalf("keys left to the browser: %q", allowed)
		}
		if prevented := p.strings(t, `window.prevented`); len(prevented) != 14 {
			t.Fatalf("keys cancelled: %q, want the 14 forwarded", prevented)
		}
		if active := browsertest.Value(p.ctx, t, 5*time.Second, chromedp.Evaluate[string](`document.activeElement.id`)); active != "remote-video" {
			t.Fatalf("Tab moved the focus to %q", active)
		}
	})

	t.Run("blur releases and forgets", func(t *testing.T) {
		p.open(t, "contain")
		p.click(t, 400, 300, input.MouseButtonLeft)
		p.mouse(t, chromedp.MousePressed, 400, 300, input.MouseButtonLeft, 1)
		p.keyDown(t, keyCtrl, cdpCtrl)
		p.drain(t)
		p.click(t, 920, 20, input.MouseButtonLeft) // the other button takes the focus
		got, _ := p.drain(t)
		// With pointerrawupdate the drag's move towards the button (clamped
		// to the picture's edge, the button being held) may go out before
		// the focus moves; what matters is that the release follows.
		for len(got) > 1 && got[0].Kind == wire.InputMove && got[0].X == wire.MaxCoord {
			got = got[1:]
		}
		wantInputs(t, got, []wire.Input{release})
		// Key-up and button-up after the release are not sent.
		p.eval(t, `document.getElementById('remote-video').focus()`)
		p.keyUp(t, keyCtrl, 0)
		p.mouse(t, chromedp.MouseReleased, 400, 300, input.MouseButtonLeft, 0)
		if got, _ := p.drain(t); len(got) != 0 {
			t.Fatalf("after release: %+v", got)
		}
		// Unfocused, the video forwards no moves.
		p.eval(t, `document.getElementById('other').focus()`)
		p.mouse(t, chromedp.MouseMoved, 300, 300, input.MouseButtonNone, 0)
		p.keyDown(t, keyA, 0)
		if got, _ := p.drain(t); len(got) != 0 {
			t.Fatalf("unfocused: %+v", got)
		}
	})

	t.Run("hidden page releases", func(t *testing.T) {
		p.open(t, "contain")
		p.click(t, 400, 300, input.MouseButtonLeft)
		p.keyDown(t, keyShift, cdpShift)
		p.drain(t)
		// Headless Chromium has no way to hide a tab; fake the state.
		p.eval(t, `Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
			document.dispatchEvent(new Event('visibilitychange'))`)
		got, _ := p.drain(t)
		wantInputs(t, got, []wire.Input{release})
	})

	t.Run("view-only sends nothing", func(t *testing.T) {
		p.open(t, "contain")
		p.click(t, 400, 300, input.MouseButtonLeft)
		p.keyDown(t, keyCtrl, cdpCtrl)
		p.drain(t)
		p.eval(t, `window.ctl.setViewOnly(true)`)
		got, _ := p.drain(t)
		wantInputs(t, got, []wire.Input{release}) // what was held is let go first
		p.eval(t, `window.prevented.length = 0; window.allowed.length = 0`)
		p.click(t, 400, 300, input.MouseButtonLeft)
		p.mouse(t, chromedp.MouseMoved, 300, 300, input.MouseButtonNone, 0)
		p.wheel(t, 300, 300, 0, 100)
		p.keyDown(t, keyA, 0)
		p.keyUp(t, keyA, 0)
		p.eval(t, `window.ctl.sendCombo('ctrl-alt-del')`)
		pasteEvent(t, p, "hello")
		p.click(t, 920, 20, input.MouseButtonLeft)
		if got, _ := p.drain(t); len(got) != 0 {
			t.Fatalf("view-only sent %+v", got)
		}
		if prevented := p.strings(t, `window.prevented`); len(prevented) != 0 {
			t.Fatalf("view-only cancelled keys %q", prevented)
		}
		p.eval(t, `window.ctl.setViewOnly(false)`)
		p.click(t, 400, 300, input.MouseButtonLeft)
		if got, _ := p.drain(t); len(got) != 3 {
			t.Fatalf("after view-only off: %+v", got)
		}
	})

	t.Run("paste", func(t *testing.T) {
		p.open(t, "contain")
		p.click(t, 400, 300, input.MouseButtonLeft)
		p.drain(t)
		// 5000 runes with CRLF line ends, multi-byte and astral characters,
		// a no-break space and controls that DecodeInput would refuse.
		long := strings.Repeat("é😀a\r\n", 1250)
		pasteEvent(t, p, "x\u00a0y\u0007\u200b"+long)
		got, _ := p.drain(t)
		if len(got) != 1 || got[0].Kind != wire.InputPaste {
			t.Fatalf("got %+v", got)
		}
		want := []rune("x y" + strings.ReplaceAll(long, "\r\n", "\n"))[:wire.MaxPasteRunes]
		if got[0].Text != string(want) {
			t.Fatalf("paste text (%d runes) is not the cleaned, truncated clipboard", utf8.RuneCountInString(got[0].Text))
		}
		notices := p.strings(t, `window.notices`)
		if len(notices) != 2 || !strings.Contains(notices[0], "4096") || !strings.Contains(notices[1], "2 unprintable") {
			t.Fatalf("notices %q", notices)
		}
	})

	t.Run("Ctrl+V pastes the local clipboard", func(t *testing.T) {
		p.open(t, "contain")
		browsertest.Step(p.ctx, t, 5*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			for _, name := range []string{"clipboard-read", "clipboard-write"} {
				if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
					Permission: &browser.PermissionDescriptor{Name: name}, Setting: "granted", Origin: p.url,
				}); err != nil {
					return err
				}
			}
			return nil
		}))
		p.click(t, 400, 300, input.MouseButtonLeft)
		browsertest.Step(p.ctx, t, 5*time.Second, chromedp.Evaluate[chromedp.Void](
			`navigator.clipboard.writeText('ls -l\r\n')`, chromedp.EvalAwaitPromise))
		p.drain(t)
		p.keyDown(t, keyCtrl, cdpCtrl)
		p.keyDown(t, keyV, cdpCtrl, "paste")
		p.keyUp(t, keyV, cdpCtrl)
		p.keyUp(t, keyCtrl, 0)
		got, _ := p.drain(t)
		// Ctrl goes down, is let go before the text is typed, and its local
		// key-up is not sent again.
		wantInputs(t, got, []wire.Input{
			kdown("ControlLeft", wire.ModCtrl), kup("ControlLeft", 0),
			{Kind: wire.InputPaste, Text: "ls -l\n"},
		})
	})

	t.Run("combos", func(t *testing.T) {
		p.open(t, "contain")
		tests := map[string][]wire.Input{
			"ctrl-alt-del": {
				kdown("ControlLeft", wire.ModCtrl), kdown("AltLeft", wire.ModCtrl|wire.ModAlt), kdown("Delete", wire.ModCtrl|wire.ModAlt),
				kup("Delete", wire.ModCtrl|wire.ModAlt), kup("AltLeft", wire.ModCtrl), kup("ControlLeft", 0),
			},
			"alt-tab":      {kdown("AltLeft", wire.ModAlt), kdown("Tab", wire.ModAlt), kup("Tab", wire.ModAlt), kup("AltLeft", 0)},
			"win":          {kdown("MetaLeft", wire.ModMeta), kup("MetaLeft", 0)},
			"alt-f4":       {kdown("AltLeft", wire.ModAlt), kdown("F4", wire.ModAlt), kup("F4", wire.ModAlt), kup("AltLeft", 0)},
			"print-screen": {kdown("PrintScreen", 0), kup("PrintScreen", 0)},
		}
		names := p.strings(t, `import('/static/input.js').then((m) => [...m.COMBO_NAMES])`)
		if len(names) != len(tests) {
			t.Fatalf("COMBO_NAMES %q", names)
		}
		for _, name := range names {
			p.eval(t, fmt.Sprintf(`window.ctl.sendCombo(%q)`, name))
			got, _ := p.drain(t)
			if diff := cmp.Diff(tests[name], got); diff != "" {
				t.Fatalf("%s (-want +got):\n%s", name, diff)
			}
		}
		err := chromedp.Do(p.ctx, chromedp.Evaluate[chromedp.Void](`window.ctl.sendCombo('toString')`))
		if err == nil || !strings.Contains(err.Error(), "unknown key combination") {
			t.Fatalf("unknown combo: %v", err)
		}
	})

	t.Run("detach releases and stops", func(t *testing.T) {
		p.open(t, "contain")
		p.click(t, 400, 300, input.MouseButtonLeft)
		p.keyDown(t, keyShift, cdpShift)
		p.drain(t)
		p.eval(t, `window.ctl.detach()`)
		got, _ := p.drain(t)
		wantInputs(t, got, []wire.Input{release})
		p.click(t, 400, 300, input.MouseButtonLeft)
		p.keyDown(t, keyA, 0)
		if got, _ := p.drain(t); len(got) != 0 {
			t.Fatalf("after detach: %+v", got)
		}
		if ti := browsertest.Value(p.ctx, t, 5*time.Second, chromedp.Evaluate[bool](`document.getElementById('remote-video').hasAttribute('tabindex')`)); ti {
			t.Fatal("detach left the tabindex it added")
		}
	})
}

// pasteEvent fires a paste event carrying text on the focused element (the
// user's Ctrl+V is tested with the real clipboard separately).
func pasteEvent(t *testing.T, p *browserPage, text string) {
	t.Helper()
	js := fmt.Sprintf(`{ const dt = new DataTransfer(); dt.setData('text/plain', %s);
		(document.activeElement || document.body).dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true })); }`,
		jsString(text))
	p.eval(t, js)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
