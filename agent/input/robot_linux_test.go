package input

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"go.uber.org/goleak"

	"porthole/agent/input/inputtest"
	"porthole/internal/wire"
	"porthole/internal/xvfb"
)

func TestMain(m *testing.M) {
	// xgb logs a line per connection without an Xauthority file; tests make many.
	xgb.Logger = log.New(io.Discard, "", 0)
	goleak.VerifyTestMain(m)
}

// injector is what the session code declares; both implementations fit.
type injector interface {
	Inject(ctx context.Context, ev wire.Input) error
}

var (
	_ injector = (*Robot)(nil)
	_ injector = (*inputtest.Recorder)(nil)
)

// twoMonitors is a 2560x720 X screen shown as two 1280x720 monitors.
var twoMonitors = []wire.Display{
	{Index: 0, X: 0, Y: 0, Width: 1280, Height: 720, Primary: true},
	{Index: 1, X: 1280, Y: 0, Width: 1280, Height: 720},
}

const wait = 3 * time.Second

func setup(t *testing.T) (*xvfb.Server, *Robot) {
	t.Helper()
	srv := xvfb.StartT(t, xvfb.Options{Width: 2560, Height: 720})
	r, err := NewRobot(Config{Display: srv.Display, Displays: twoMonitors})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv, r
}

func inject(t *testing.T, r *Robot, evs ...wire.Input) {
	t.Helper()
	for _, ev := range evs {
		if err := r.Inject(context.Background(), ev); err != nil {
			t.Fatalf("Inject(%+v): %v", ev, err)
		}
	}
}

// moveTo moves to screen pixel (x, y) of display d, as a page showing that
// display at its native size would.
func moveTo(d, x, y int) wire.Input {
	r := twoMonitors[d]
	return wire.Input{Kind: wire.InputMove, Display: d, X: wire.NormCoord(x, r.Width), Y: wire.NormCoord(y, r.Height)}
}

func xdotoolLocation(t *testing.T, srv *xvfb.Server) (int, int) {
	t.Helper()
	cmd := exec.Command("xdotool", "getmouselocation", "--shell")
	cmd.Env = srv.Env()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xdotool getmouselocation: %v", err)
	}
	var x, y = -1, -1
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "X="); ok {
			x, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(line, "Y="); ok {
			y, _ = strconv.Atoi(v)
		}
	}
	return x, y
}

func near(a, b int) bool { return a-b <= 1 && b-a <= 1 }

func TestMove(t *testing.T) {
	srv, r := setup(t)
	tests := []struct {
		name   string
		ev     wire.Input
		wx, wy int
	}{
		{"display 0 origin", moveTo(0, 0, 0), 0, 0},
		{"display 0 pixel", moveTo(0, 100, 200), 100, 200},
		{"display 0 far corner", wire.Input{Kind: wire.InputMove, X: wire.MaxCoord, Y: wire.MaxCoord}, 1279, 719},
		{"scaled 640x360 video centre", wire.Input{Kind: wire.InputMove, X: wire.NormCoord(320, 640), Y: wire.NormCoord(180, 360)}, 640, 360},
		{"scaled 640x360 video pixel", wire.Input{Kind: wire.InputMove, X: wire.NormCoord(100, 640), Y: wire.NormCoord(50, 360)}, 200, 100},
		{"display 1 origin", moveTo(1, 0, 0), 1280, 0},
		{"display 1 pixel", moveTo(1, 640, 360), 1920, 360},
		{"display 1 far corner", wire.Input{Kind: wire.InputMove, Display: 1, X: wire.MaxCoord, Y: wire.MaxCoord}, 2559, 719},
		{"display 1 scaled", wire.Input{Kind: wire.InputMove, Display: 1, X: wire.NormCoord(639, 640), Y: wire.NormCoord(0, 360)}, 2559, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inject(t, r, tt.ev)
			if x, y := xdotoolLocation(t, srv); !near(x, tt.wx) || !near(y, tt.wy) {
				t.Fatalf("pointer at (%d,%d), want (%d,%d)±1", x, y, tt.wx, tt.wy)
			}
		})
	}
	err := r.Inject(context.Background(), wire.Input{Kind: wire.InputMove, Display: 2})
	if !errors.Is(err, ErrDisplay) {
		t.Fatalf("move to display 2 = %v, want ErrDisplay", err)
	}
}

func TestButtonsAndWheel(t *testing.T) {
	srv, r := setup(t)
	// The window is on the second monitor so that the mapping is exercised.
	c := inputtest.NewChecker(t, srv.Display, image.Rect(1380, 100, 1780, 400))
	inject(t, r,
		moveTo(1, 300, 250), // screen (1580, 250)
		wire.Input{Kind: wire.InputButtonDown, Button: wire.ButtonLeft},
		wire.Input{Kind: wire.InputButtonUp, Button: wire.ButtonLeft},
		wire.Input{Kind: wire.InputButtonDown, Button: wire.ButtonRight},
		wire.Input{Kind: wire.InputButtonUp, Button: wire.ButtonRight},
		wire.Input{Kind: wire.InputButtonDown, Button: wire.ButtonMiddle},
		wire.Input{Kind: wire.InputButtonUp, Button: wire.ButtonMiddle},
		wire.Input{Kind: wire.InputWheel, DY: 2},
		wire.Input{Kind: wire.InputWheel, DY: -1},
		wire.Input{Kind: wire.InputWheel, DX: 1},
		wire.Input{Kind: wire.InputWheel, DX: -1},
	)
	// X buttons: 1 left, 3 right, 2 middle, 5 down, 4 up, 7 right, 6 left.
	want := []int{1, 3, 2, 5, 5, 4, 7, 6}
	if _, ok := c.WaitEvent(wait, func(e inputtest.Event) bool { return e.Kind == inputtest.ButtonRelease && e.Button == 6 }); !ok {
		t.Fatalf("last wheel event never arrived; saw %+v", c.Events())
	}
	var got []int
	for _, e := range c.Events() {
		if e.Kind == inputtest.ButtonPress {
			got = append(got, e.Button)
			if !near(e.RootX, 1580) || !near(e.RootY, 250) || !near(e.X, 200) || !near(e.Y, 150) {
				t.Errorf("button %d at root (%d,%d) window (%d,%d), want (1580,250) (200,150)", e.Button, e.RootX, e.RootY, e.X, e.Y)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("button presses %v, want %v", got, want)
	}
}

// keysFor returns the key events a browser sends for typing s on a US
// keyboard (enough of it for the tests).
func keysFor(t *testing.T, s string) []wire.Input {
	t.Helper()
	shifted := map[rune]string{'!': "Digit1", '?': "Slash", ':': "Semicolon", '"': "Quote"}
	plain := map[rune]string{' ': "Space", ',': "Comma", '.': "Period", '\n': "Enter", '1': "Digit1", '-': "Minus"}
	var evs []wire.Input
	for _, c := range s {
		code, shift := "", false
		switch {
		case c >= 'a' && c <= 'z':
			code = "Key" + strings.ToUpper(string(c))
		case c >= 'A' && c <= 'Z':
			code, shift = "Key"+string(c), true
		case shifted[c] != "":
			code, shift = shifted[c], true
		case plain[c] != "":
			code = plain[c]
		default:
			t.Fatalf("keysFor: no key for %q", c)
		}
		var m wire.Modifiers
		if shift {
			m = wire.ModShift
			evs = append(evs, wire.Input{Kind: wire.InputKeyDown, Code: "ShiftLeft", Mods: m})
		}
		evs = append(evs,
			wire.Input{Kind: wire.InputKeyDown, Code: code, Mods: m},
			wire.Input{Kind: wire.InputKeyUp, Code: code, Mods: m})
		if shift {
			evs = append(evs, wire.Input{Kind: wire.InputKeyUp, Code: "ShiftLeft"})
		}
	}
	return evs
}

func TestTyping(t *testing.T) {
	tests := []struct {
		name string
		evs  func(t *testing.T) []wire.Input
		want string
	}{
		{"key events", func(t *testing.T) []wire.Input { return keysFor(t, "Hello, World!") }, "Hello, World!"},
		{"paste", func(*testing.T) []wire.Input {
			return []wire.Input{{Kind: wire.InputPaste, Text: "Hello, World!"}}
		}, "Hello, World!"},
		{"paste punctuation and lines", func(*testing.T) []wire.Input {
			return []wire.Input{{Kind: wire.InputPaste, Text: "a\tb\n~!@#$%^&*()_+{}|:\"<>? `-=[]\\;',./"}}
		}, "a\tb\n~!@#$%^&*()_+{}|:\"<>? `-=[]\\;',./"},
		{"paste non-ASCII", func(*testing.T) []wire.Input {
			return []wire.Input{{Kind: wire.InputPaste, Text: "héllo €"}}
		}, "héllo €"},
		{"paste after Ctrl+V releases Ctrl", func(*testing.T) []wire.Input {
			return []wire.Input{
				{Kind: wire.InputKeyDown, Code: "ControlLeft", Mods: wire.ModCtrl},
				{Kind: wire.InputKeyDown, Code: "KeyV", Mods: wire.ModCtrl},
				{Kind: wire.InputPaste, Text: "ok"},
			}
		}, "vok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, r := setup(t)
			c := inputtest.NewChecker(t, srv.Display, image.Rect(50, 50, 450, 350))
			inject(t, r, tt.evs(t)...)
			if got, ok := c.WaitText(wait, tt.want); !ok {
				t.Fatalf("checker typed %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPasteRefusesBeyondBMP(t *testing.T) {
	srv, r := setup(t)
	c := inputtest.NewChecker(t, srv.Display, image.Rect(50, 50, 450, 350))
	err := r.Inject(context.Background(), wire.Input{Kind: wire.InputPaste, Text: "ab😀"})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("paste with emoji = %v, want ErrUnsupported", err)
	}
	inject(t, r, wire.Input{Kind: wire.InputPaste, Text: "z"})
	if got, ok := c.WaitText(wait, "z"); !ok {
		t.Fatalf("checker typed %q; the refused paste must type nothing", got)
	}
}

func TestPasteStopsWhenContextEnds(t *testing.T) {
	srv, r := setup(t)
	c := inputtest.NewChecker(t, srv.Display, image.Rect(50, 50, 450, 350))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := r.Inject(ctx, wire.Input{Kind: wire.InputPaste, Text: strings.Repeat("x", 100)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("paste with cancelled ctx = %v", err)
	}
	inject(t, r, wire.Input{Kind: wire.InputPaste, Text: "y"})
	if got, ok := c.WaitText(wait, "y"); !ok {
		t.Fatalf("checker typed %q", got)
	}
}

const shiftL = 0xffe1 // XK_Shift_L

func TestReleaseAll(t *testing.T) {
	srv, r := setup(t)
	c := inputtest.NewChecker(t, srv.Display, image.Rect(50, 50, 450, 350))
	inject(t, r,
		moveTo(0, 100, 100),
		wire.Input{Kind: wire.InputKeyDown, Code: "ShiftLeft", Mods: wire.ModShift},
		wire.Input{Kind: wire.InputKeyDown, Code: "ControlRight", Mods: wire.ModShift | wire.ModCtrl},
		wire.Input{Kind: wire.InputButtonDown, Button: wire.ButtonLeft},
	)
	_, _, mask, err := c.Pointer()
	if err != nil {
		t.Fatal(err)
	}
	held := uint16(xproto.ModMaskShift | xproto.ModMaskControl | xproto.KeyButMaskButton1)
	if mask&held != held {
		t.Fatalf("state mask %#x before release, want %#x held", mask, held)
	}
	inject(t, r, wire.Input{Kind: wire.InputReleaseAll})
	if _, _, mask, _ = c.Pointer(); mask&held != 0 {
		t.Fatalf("state mask %#x after release-all, want none of %#x", mask, held)
	}
	if _, ok := c.WaitEvent(wait, func(e inputtest.Event) bool { return e.Kind == inputtest.KeyRelease && e.Keysym == shiftL }); !ok {
		t.Fatalf("no Shift_L release seen: %+v", c.Events())
	}
	if _, ok := c.WaitEvent(wait, func(e inputtest.Event) bool { return e.Kind == inputtest.ButtonRelease && e.Button == 1 }); !ok {
		t.Fatalf("no button 1 release seen: %+v", c.Events())
	}
	// Nothing is held any more, so typing is plain again.
	c.Reset()
	inject(t, r, keysFor(t, "ab")...)
	if got, ok := c.WaitText(wait, "ab"); !ok {
		t.Fatalf("typed %q after release-all", got)
	}
	// Close releases too.
	inject(t, r, wire.Input{Kind: wire.InputKeyDown, Code: "ShiftRight", Mods: wire.ModShift})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, mask, _ = c.Pointer(); mask&xproto.ModMaskShift != 0 {
		t.Fatalf("Shift still down after Close (mask %#x)", mask)
	}
	if err := r.Inject(context.Background(), moveTo(0, 1, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Inject after Close = %v, want ErrClosed", err)
	}
}

func TestLostModifierReleased(t *testing.T) {
	srv, r := setup(t)
	c := inputtest.NewChecker(t, srv.Display, image.Rect(50, 50, 450, 350))
	// Shift went down, its key-up was lost; the next key says Shift is up.
	inject(t, r,
		wire.Input{Kind: wire.InputKeyDown, Code: "ShiftLeft", Mods: wire.ModShift},
		wire.Input{Kind: wire.InputKeyDown, Code: "KeyA", Mods: 0},
		wire.Input{Kind: wire.InputKeyUp, Code: "KeyA", Mods: 0},
		wire.Input{Kind: wire.InputKeyDown, Code: "KeyB", Mods: 0},
		wire.Input{Kind: wire.InputKeyUp, Code: "KeyB", Mods: 0},
	)
	// The A went out while Shift was still down (the browser's report came
	// with it); the B after the resync is plain.
	if got, ok := c.WaitText(wait, "Ab"); !ok {
		t.Fatalf("typed %q, want %q", got, "Ab")
	}
	if _, _, mask, _ := c.Pointer(); mask&xproto.ModMaskShift != 0 {
		t.Fatalf("Shift still down (mask %#x)", mask)
	}
}

func TestViewOnly(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 2560, Height: 720})
	r, err := NewRobot(Config{Display: srv.Display, Displays: twoMonitors, ViewOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c := inputtest.NewChecker(t, srv.Display, image.Rect(0, 0, 400, 300))
	x0, y0, _, err := c.Pointer()
	if err != nil {
		t.Fatal(err)
	}
	all := []wire.Input{
		moveTo(0, 10, 10),
		{Kind: wire.InputButtonDown, Button: wire.ButtonLeft},
		{Kind: wire.InputButtonUp, Button: wire.ButtonLeft},
		{Kind: wire.InputWheel, DY: 1},
		{Kind: wire.InputKeyDown, Code: "KeyA"},
		{Kind: wire.InputKeyUp, Code: "KeyA"},
		{Kind: wire.InputPaste, Text: "x"},
		{Kind: wire.InputReleaseAll},
	}
	for _, ev := range all {
		if err := r.Inject(context.Background(), ev); !errors.Is(err, ErrViewOnly) {
			t.Errorf("view-only Inject(%s) = %v, want ErrViewOnly", ev.Kind, err)
		}
	}
	// A round trip to the server, then nothing must have arrived.
	if x, y, _, _ := c.Pointer(); x != x0 || y != y0 {
		t.Errorf("pointer moved to (%d,%d) in view-only", x, y)
	}
	if evs := c.Events(); len(evs) != 0 {
		t.Errorf("view-only let events through: %+v", evs)
	}
	// Control granted, then taken away while Shift is held.
	if err := r.SetViewOnly(false); err != nil {
		t.Fatal(err)
	}
	inject(t, r, moveTo(0, 10, 10), wire.Input{Kind: wire.InputKeyDown, Code: "ShiftLeft", Mods: wire.ModShift})
	if err := r.SetViewOnly(true); err != nil {
		t.Fatal(err)
	}
	if _, _, mask, _ := c.Pointer(); mask&xproto.ModMaskShift != 0 {
		t.Fatalf("Shift still down after switching to view-only (mask %#x)", mask)
	}
	if err := r.Inject(context.Background(), moveTo(0, 20, 20)); !errors.Is(err, ErrViewOnly) {
		t.Fatalf("Inject after SetViewOnly(true) = %v", err)
	}
}

// TestEveryKeyCode presses every allow-listed key on a real server: each must
// reach the window as a real key (a name robotgo did not know would send
// keycode 0 and kill the process).
func TestEveryKeyCode(t *testing.T) {
	srv, r := setup(t)
	c := inputtest.NewChecker(t, srv.Display, image.Rect(50, 50, 450, 350))
	var codes, missing []string
	for _, code := range wire.KeyCodes() {
		err := r.Inject(context.Background(), wire.Input{Kind: wire.InputKeyDown, Code: code})
		if errors.Is(err, ErrUnsupported) {
			missing = append(missing, code)
			continue
		}
		if err != nil {
			t.Fatalf("key down %s: %v", code, err)
		}
		codes = append(codes, code)
		inject(t, r, wire.Input{Kind: wire.InputKeyUp, Code: code})
	}
	// Xvfb's default keyboard map has no F13–F24; everything else must work.
	wantMissing := []string{"F13", "F14", "F15", "F16", "F17", "F18", "F19", "F20", "F21", "F22", "F23", "F24"}
	if !slices.Equal(missing, wantMissing) {
		t.Fatalf("keys refused as unsupported: %v, want %v", missing, wantMissing)
	}
	inject(t, r, wire.Input{Kind: wire.InputKeyDown, Code: "F12"})
	lastF12 := func(e inputtest.Event) bool { return e.Kind == inputtest.KeyPress && e.Keysym == 0xffc9 }
	// Wait for the second F12 press (the first is F12 in the list): robotgo's
	// extra Shift events make an event count reach its mark too early.
	secondF12 := func() bool {
		n := 0
		for _, e := range c.Events() {
			if lastF12(e) {
				n++
			}
		}
		return n >= 2
	}
	for deadline := time.Now().Add(wait); !secondF12() && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
	if !secondF12() || len(c.Events()) < 2*len(codes)+1 {
		t.Fatalf("saw %d key events, want %d", len(c.Events()), 2*len(codes)+1)
	}
	var presses []inputtest.Event
	for _, e := range c.Events() {
		if e.Kind == inputtest.KeyPress {
			presses = append(presses, e)
		}
	}
	// NumpadAdd and NumpadMultiply type through Shift+= and Shift+8:
	// drop the Shift presses robotgo adds for them.
	for i := 0; i+1 < len(presses); i++ {
		if presses[i].Keysym == shiftL && presses[i+1].State&xproto.ModMaskShift != 0 {
			presses = slices.Delete(presses, i, i+1)
		}
	}
	if len(presses) != len(codes)+1 {
		t.Fatalf("%d key presses for %d keys", len(presses), len(codes)+1)
	}
	want := map[string]uint32{
		"KeyA": 'a', "KeyZ": 'z', "Digit0": '0', "Minus": '-', "Slash": '/', "Quote": '\'',
		"Backquote": '`', "Space": ' ', "Enter": 0xff0d, "Escape": 0xff1b, "Tab": 0xff09,
		"Backspace": 0xff08, "Delete": 0xffff, "Home": 0xff50, "End": 0xff57,
		"PageUp": 0xff55, "PageDown": 0xff56, "Insert": 0xff63, "ArrowUp": 0xff52,
		"ArrowLeft": 0xff51, "F1": 0xffbe, "F5": 0xffc2, "F12": 0xffc9, "ShiftLeft": shiftL,
		"ShiftRight": 0xffe2, "ControlLeft": 0xffe3, "ControlRight": 0xffe4, "AltLeft": 0xffe9,
		"NumpadAdd": '+', "NumpadMultiply": '*', "NumpadSubtract": '-', "NumpadDivide": '/',
	}
	var bad []string
	for i, code := range codes {
		e := presses[i]
		if e.Keycode < 8 {
			bad = append(bad, fmt.Sprintf("%s: keycode %d", code, e.Keycode))
		}
		if w, ok := want[code]; ok && e.Keysym != w {
			bad = append(bad, fmt.Sprintf("%s: keysym %#x, want %#x", code, e.Keysym, w))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("keys that did not arrive as expected:\n%s", strings.Join(bad, "\n"))
	}
}

func TestNewRobotRejects(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 1280, Height: 720})
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no display", Config{Displays: twoMonitors[:1]}, ErrConfig},
		{"no rects", Config{Display: srv.Display}, ErrConfig},
		{"rect off screen", Config{Display: srv.Display, Displays: twoMonitors}, ErrConfig},
		{"empty rect", Config{Display: srv.Display, Displays: []wire.Display{{Width: 0, Height: 10}}}, ErrConfig},
		{"negative rect", Config{Display: srv.Display, Displays: []wire.Display{{X: -1, Width: 10, Height: 10}}}, ErrConfig},
		{"display not running", Config{Display: ":" + strconv.Itoa(60000), Displays: twoMonitors[:1]}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRobot(tt.cfg)
			if err == nil {
				r.Close()
				t.Fatal("NewRobot accepted the config")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("NewRobot = %v, want %v", err, tt.want)
			}
		})
	}
}

// BenchmarkMoveLatency measures a move from Inject to the moment another X
// client's QueryPointer sees the pointer there, and reports the median.
func BenchmarkMoveLatency(b *testing.B) {
	srv := xvfb.StartT(b, xvfb.Options{Width: 1280, Height: 720})
	r, err := NewRobot(Config{Display: srv.Display, Displays: twoMonitors[:1]})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	c := inputtest.NewChecker(b, srv.Display, image.Rect(0, 0, 10, 10))
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x, y := 100+i%1000, 100+(i/1000)%500
		start := time.Now()
		if err := r.Inject(ctx, wire.Input{Kind: wire.InputMove, X: wire.NormCoord(x, 1280), Y: wire.NormCoord(y, 720)}); err != nil {
			b.Fatal(err)
		}
		for {
			px, py, _, err := c.Pointer()
			if err != nil {
				b.Fatal(err)
			}
			if px == x && py == y {
				break
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
