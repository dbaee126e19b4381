package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/go-vgo/robotgo"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"porthole/internal/wire"
)

// robotgo keeps its X connection, display name and key delay in C statics and
// package variables: one per process. lib serialises every robotgo call and
// records which display that connection is bound to, so that Robots for
// different displays (tests, several sessions) take turns correctly.
var lib struct {
	mu    sync.Mutex
	bound string // display robotgo's connection targets; "" = none
}

// bindLocked points robotgo at display. robotgo.SetXDisplayName makes its
// next call reopen the main connection on display. The Unicode path of
// robotgo.Type opens XOpenDisplay(NULL), i.e. $DISPLAY, so the process
// environment's DISPLAY is set to display too: a process that injects input
// must not rely on DISPLAY for anything else (child processes get an explicit
// environment). Requires lib.mu.
func bindLocked(display string) error {
	if lib.bound == display {
		return nil
	}
	if err := os.Setenv("DISPLAY", display); err != nil {
		return fmt.Errorf("input: set DISPLAY: %w", err)
	}
	if err := robotgo.SetXDisplayName(display); err != nil {
		return fmt.Errorf("input: bind robotgo to %s: %w", display, err)
	}
	// robotgo sleeps KeySleep (10 ms) after every key toggle by default;
	// the remote user's own typing sets the pace.
	robotgo.KeySleep = 0
	robotgo.MouseSleep = 0
	lib.bound = display
	return nil
}

// Robot injects wire.Input events into an X11 session through robotgo
// (XTEST). It tracks the keys and buttons it holds down so that ReleaseAll
// (on blur, on session end, on switching to view-only) leaves nothing stuck.
// A Robot is safe for concurrent use; events are injected one at a time.
type Robot struct {
	display  string
	rects    []wire.Display
	log      *slog.Logger
	viewOnly atomic.Bool

	mu      sync.Mutex // guards the fields below and orders injections
	keys    []string   // codes held down, in press order
	buttons [3]bool    // buttons held down, by wire.Button
	closed  bool
	xc      *xgb.Conn       // our own connection, to read the keyboard map
	keysyms map[uint32]bool // keysyms the keyboard map has, refreshed on a miss
}

// NewRobot checks that cfg.Display accepts connections and that the display
// rects lie on its screen, then returns a Robot bound to it. It never falls
// back to another display: robotgo would try $DISPLAY and ":0.0" if its
// display failed to open, so the display is probed first.
func NewRobot(cfg Config) (*Robot, error) {
	if cfg.Display == "" {
		return nil, fmt.Errorf("%w: no display", ErrConfig)
	}
	if len(cfg.Displays) == 0 || len(cfg.Displays) > wire.MaxInputDisplay+1 {
		return nil, fmt.Errorf("%w: %d display rects", ErrConfig, len(cfg.Displays))
	}
	conn, err := xgb.NewConnDisplay(cfg.Display)
	if err != nil {
		return nil, fmt.Errorf("input: open display %s: %w", cfg.Display, err)
	}
	screen := xproto.Setup(conn).DefaultScreen(conn)
	sw, sh := int(screen.WidthInPixels), int(screen.HeightInPixels)
	for i, d := range cfg.Displays {
		if d.Width <= 0 || d.Height <= 0 || d.X < 0 || d.Y < 0 || d.X+d.Width > sw || d.Y+d.Height > sh {
			conn.Close()
			return nil, fmt.Errorf("%w: display %d (%d,%d %dx%d) not within the %dx%d screen",
				ErrConfig, i, d.X, d.Y, d.Width, d.Height, sw, sh)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Robot{
		display: cfg.Display,
		rects:   slices.Clone(cfg.Displays),
		log:     log.With("component", "input", "display", cfg.Display),
		xc:      conn,
	}
	r.viewOnly.Store(cfg.ViewOnly)
	if err := r.loadKeymapLocked(); err != nil {
		conn.Close()
		return nil, err
	}
	lib.mu.Lock()
	err = bindLocked(r.display)
	lib.mu.Unlock()
	if err != nil {
		conn.Close()
		return nil, err
	}
	return r, nil
}

// loadKeymapLocked reads the server's keyboard map into r.keysyms.
func (r *Robot) loadKeymapLocked() error {
	setup := xproto.Setup(r.xc)
	n := byte(int(setup.MaxKeycode) - int(setup.MinKeycode) + 1)
	km, err := xproto.GetKeyboardMapping(r.xc, setup.MinKeycode, n).Reply()
	if err != nil {
		return fmt.Errorf("input: keyboard map of %s: %w", r.display, err)
	}
	r.keysyms = make(map[uint32]bool, len(km.Keysyms))
	for _, k := range km.Keysyms {
		r.keysyms[uint32(k)] = true
	}
	return nil
}

// hasKeysymLocked reports whether some key produces sym, re-reading the map
// once on a miss (layouts change while a session runs).
func (r *Robot) hasKeysymLocked(sym uint32) bool {
	if r.keysyms[sym] {
		return true
	}
	if err := r.loadKeymapLocked(); err != nil {
		r.log.Warn("keymap_failed", "err", err)
		return false
	}
	return r.keysyms[sym]
}

// SetViewOnly switches the view-only guard. Switching to view-only first
// releases everything held, so no key stays down while events are refused.
func (r *Robot) SetViewOnly(on bool) error {
	r.viewOnly.Store(on)
	if on {
		return r.ReleaseAll()
	}
	return nil
}

// Inject performs one event. It refuses every event (including release)
// with ErrViewOnly in a view-only session, and ErrClosed after Close. A paste
// types rune by rune and stops early when ctx ends.
func (r *Robot) Inject(ctx context.Context, ev wire.Input) error {
	if r.viewOnly.Load() {
		return ErrViewOnly
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("input: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	// Checked again under the lock: SetViewOnly may have run while we waited.
	if r.viewOnly.Load() {
		return ErrViewOnly
	}
	switch ev.Kind {
	case wire.InputMove:
		return r.moveLocked(ev)
	case wire.InputButtonDown, wire.InputButtonUp:
		return r.buttonLocked(ev.Button, ev.Kind == wire.InputButtonDown)
	case wire.InputWheel:
		// robotgo (X11): positive y is button 4 (up), positive x button 6
		// (left); the wire's signs are WheelEvent's, positive down and right.
		return withLib(r.display, func() error { robotgo.Scroll(-ev.DX, -ev.DY, 0); return nil })
	case wire.InputKeyDown, wire.InputKeyUp:
		return r.keyLocked(ev)
	case wire.InputPaste:
		return r.pasteLocked(ctx, ev.Text)
	case wire.InputReleaseAll:
		return r.releaseLocked(true)
	}
	return fmt.Errorf("%w: kind %q", ErrUnsupported, ev.Kind)
}

// ReleaseAll releases every key and button this Robot holds down. It works
// in view-only mode too (it is how view-only mode starts) and after Close.
func (r *Robot) ReleaseAll() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.releaseLocked(true)
}

// Close releases everything held and drops robotgo's X connection while the
// server is still there (Xlib exits the process on a connection that breaks
// under it). It is idempotent; later Injects return ErrClosed.
func (r *Robot) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	err := r.releaseLocked(true)
	r.closed = true
	r.xc.Close()
	lib.mu.Lock()
	if lib.bound == r.display {
		robotgo.CloseMainDisplay()
		lib.bound = ""
	}
	lib.mu.Unlock()
	return err
}

// withLib runs f with robotgo bound to display.
func withLib(display string, f func() error) error {
	lib.mu.Lock()
	defer lib.mu.Unlock()
	if err := bindLocked(display); err != nil {
		return err
	}
	return f()
}

func (r *Robot) moveLocked(ev wire.Input) error {
	if ev.Display >= len(r.rects) {
		return fmt.Errorf("%w: %d of %d", ErrDisplay, ev.Display, len(r.rects))
	}
	d := r.rects[ev.Display]
	x := d.X + min(max(wire.ScreenCoord(ev.X, d.Width), 0), d.Width-1)
	y := d.Y + min(max(wire.ScreenCoord(ev.Y, d.Height), 0), d.Height-1)
	return withLib(r.display, func() error { robotgo.Move(x, y); return nil })
}

var buttonNames = [...]string{wire.ButtonLeft: "left", wire.ButtonMiddle: "center", wire.ButtonRight: "right"}

func (r *Robot) buttonLocked(b wire.Button, down bool) error {
	dir := "up"
	if down {
		dir = "down"
	}
	if err := withLib(r.display, func() error { return robotgo.Toggle(buttonNames[b], dir) }); err != nil {
		return fmt.Errorf("input: button %s %s: %w", buttonNames[b], dir, err)
	}
	r.buttons[b] = down
	return nil
}

func (r *Robot) keyLocked(ev wire.Input) error {
	down := ev.Kind == wire.InputKeyDown
	if err := r.toggleKeyLocked(ev.Code, down); err != nil {
		return err
	}
	// The browser reports which modifiers are down with every key event. A
	// modifier we hold that the browser says is up lost its key-up (focus
	// change, dropped message): release it rather than leave it stuck.
	var errs []error
	for _, code := range slices.Clone(r.keys) {
		if bit, ok := modifierBit[code]; ok && code != ev.Code && ev.Mods&bit == 0 {
			errs = append(errs, r.toggleKeyLocked(code, false))
		}
	}
	return errors.Join(errs...)
}

func (r *Robot) toggleKeyLocked(code string, down bool) error {
	k, ok := robotgoKeys[code]
	if !ok {
		return fmt.Errorf("%w: key %q", ErrUnsupported, code)
	}
	if !r.hasKeysymLocked(k.keysym) {
		return fmt.Errorf("%w: key %s: keysym %#x not in the keyboard map", ErrUnsupported, code, k.keysym)
	}
	dir := "up"
	if down {
		dir = "down"
	}
	if err := withLib(r.display, func() error { return robotgo.KeyToggle(k.name, dir) }); err != nil {
		return fmt.Errorf("input: key %s %s: %w", code, dir, err)
	}
	i := slices.Index(r.keys, code)
	switch {
	case down && i < 0:
		r.keys = append(r.keys, code)
	case !down && i >= 0:
		r.keys = slices.Delete(r.keys, i, i+1)
	}
	return nil
}

// releaseLocked releases held keys in reverse press order, then (if buttons)
// held buttons. It keeps going after an error so that one failure does not
// leave the rest stuck.
func (r *Robot) releaseLocked(buttons bool) error {
	var errs []error
	for i := len(r.keys) - 1; i >= 0; i-- {
		errs = append(errs, r.toggleKeyLocked(r.keys[i], false))
	}
	r.keys = nil // even if a release failed: the next ReleaseAll must not retry forever
	if buttons {
		for b, down := range r.buttons {
			if down {
				errs = append(errs, r.buttonLocked(wire.Button(b), false))
			}
		}
		r.buttons = [3]bool{}
	}
	if err := errors.Join(errs...); err != nil {
		r.log.Warn("release_failed", "err", err)
		return err
	}
	return nil
}

// pasteLocked types text. Held keys are released first: a paste usually
// follows Ctrl+V in the browser, and typing with Ctrl still down on the
// endpoint would send a string of shortcuts instead of text.
func (r *Robot) pasteLocked(ctx context.Context, text string) error {
	for _, c := range text {
		// robotgo types non-ASCII runes through a "U+XXXX" keysym name and
		// has no working path beyond the BMP (it would send keycode 0).
		if c > 0xFFFF {
			return fmt.Errorf("%w: paste rune %U outside the BMP", ErrUnsupported, c)
		}
		// ASCII is typed with the layout's own keys (non-ASCII remaps a
		// spare keycode): a layout without the key cannot type it.
		if c < 0x80 && !r.hasKeysymLocked(pasteKeysym(c)) {
			return fmt.Errorf("%w: paste rune %q has no key in the keyboard map", ErrUnsupported, c)
		}
	}
	if err := r.releaseLocked(false); err != nil {
		return err
	}
	for _, c := range text {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("input: paste: %w", err)
		}
		err := withLib(r.display, func() error {
			if c < 0x80 {
				// '\n' and '\t' must take this path: robotgo.Type turns
				// them into the keysym name "\n", which does not exist.
				robotgo.UnicodeType(uint32(c))
			} else {
				robotgo.Type(string(c))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
