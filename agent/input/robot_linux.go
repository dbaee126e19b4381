package input

import (
	"context"
	"fmt"
	"os"
	"sync"

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
	*core
}

// x11 is Robot's backend. Its fields are used under core.mu.
type x11 struct {
	display string
	xc      *xgb.Conn       // our own connection, to read the keyboard map
	keysyms map[uint32]bool // keysyms the keyboard map has, refreshed on a miss
	log     func(msg string, args ...any)
}

// NewRobot checks that cfg.Display accepts connections and that the display
// rects lie on its screen, then returns a Robot bound to it. It never falls
// back to another display: robotgo would try $DISPLAY and ":0.0" if its
// display failed to open, so the display is probed first.
func NewRobot(cfg Config) (*Robot, error) {
	if cfg.Display == "" {
		return nil, fmt.Errorf("%w: no display", ErrConfig)
	}
	if err := checkDisplays(cfg.Displays); err != nil {
		return nil, err
	}
	conn, err := xgb.NewConnDisplay(cfg.Display)
	if err != nil {
		return nil, fmt.Errorf("input: open display %s: %w", cfg.Display, err)
	}
	screen := xproto.Setup(conn).DefaultScreen(conn)
	sw, sh := int(screen.WidthInPixels), int(screen.HeightInPixels)
	for i, d := range cfg.Displays {
		if d.X < 0 || d.Y < 0 || d.X+d.Width > sw || d.Y+d.Height > sh {
			conn.Close()
			return nil, fmt.Errorf("%w: display %d (%d,%d %dx%d) not within the %dx%d screen",
				ErrConfig, i, d.X, d.Y, d.Width, d.Height, sw, sh)
		}
	}
	be := &x11{display: cfg.Display, xc: conn}
	if err := be.loadKeymap(); err != nil {
		conn.Close()
		return nil, err
	}
	lib.mu.Lock()
	err = bindLocked(be.display)
	lib.mu.Unlock()
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := newCore(cfg, be, "input")
	c.log = c.log.With("display", cfg.Display)
	be.log = c.log.Warn
	return &Robot{c}, nil
}

// loadKeymap reads the server's keyboard map into b.keysyms.
func (b *x11) loadKeymap() error {
	setup := xproto.Setup(b.xc)
	n := byte(int(setup.MaxKeycode) - int(setup.MinKeycode) + 1)
	km, err := xproto.GetKeyboardMapping(b.xc, setup.MinKeycode, n).Reply()
	if err != nil {
		return fmt.Errorf("input: keyboard map of %s: %w", b.display, err)
	}
	b.keysyms = make(map[uint32]bool, len(km.Keysyms))
	for _, k := range km.Keysyms {
		b.keysyms[uint32(k)] = true
	}
	return nil
}

// hasKeysym reports whether some key produces sym, re-reading the map
// once on a miss (layouts change while a session runs).
func (b *x11) hasKeysym(sym uint32) bool {
	if b.keysyms[sym] {
		return true
	}
	if err := b.loadKeymap(); err != nil {
		b.log("keymap_failed", "err", err)
		return false
	}
	return b.keysyms[sym]
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

func (b *x11) move(x, y int) error {
	return withLib(b.display, func() error { robotgo.Move(x, y); return nil })
}

var robotButtons = [...]string{wire.ButtonLeft: "left", wire.ButtonMiddle: "center", wire.ButtonRight: "right"}

func (b *x11) button(btn wire.Button, down bool) error {
	return withLib(b.display, func() error { return robotgo.Toggle(robotButtons[btn], upDown(down)) })
}

// wheel: robotgo (X11) scrolls up for positive y (button 4) and left for
// positive x (button 6); the wire's signs are WheelEvent's, positive down
// and right.
func (b *x11) wheel(dx, dy int) error {
	return withLib(b.display, func() error { robotgo.Scroll(-dx, -dy, 0); return nil })
}

func (b *x11) key(code string, down bool) error {
	k := keys[code]
	if !b.hasKeysym(k.keysym) {
		return fmt.Errorf("%w: key %s: keysym %#x not in the keyboard map", ErrUnsupported, code, k.keysym)
	}
	if err := withLib(b.display, func() error { return robotgo.KeyToggle(k.robot, upDown(down)) }); err != nil {
		return fmt.Errorf("input: key %s %s: %w", code, upDown(down), err)
	}
	return nil
}

// pasteKeysym is the keysym robotgo's ASCII typing (robotgo.UnicodeType)
// presses for c, quirks of its table included.
func pasteKeysym(c rune) uint32 {
	switch c {
	case '\n':
		return 0xff0d
	case '\t':
		return 0xff09
	case '"':
		return '\'' // robotgo: XK_quoteright plus Shift
	case '\'':
		return '"' // robotgo: XK_quotedbl, found on the apostrophe key
	case '<':
		return ',' // robotgo: keysym 44 plus Shift
	}
	return uint32(c)
}

func (b *x11) checkPaste(text string) error {
	for _, c := range text {
		// robotgo types non-ASCII runes through a "U+XXXX" keysym name and
		// has no working path beyond the BMP (it would send keycode 0).
		if c > 0xFFFF {
			return fmt.Errorf("%w: paste rune %U outside the BMP", ErrUnsupported, c)
		}
		// ASCII is typed with the layout's own keys (non-ASCII remaps a
		// spare keycode): a layout without the key cannot type it.
		if c < 0x80 && !b.hasKeysym(pasteKeysym(c)) {
			return fmt.Errorf("%w: paste rune %q has no key in the keyboard map", ErrUnsupported, c)
		}
	}
	return nil
}

func (b *x11) paste(ctx context.Context, text string) error {
	for _, c := range text {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("input: paste: %w", err)
		}
		err := withLib(b.display, func() error {
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

// close drops robotgo's X connection while the server is still there (Xlib
// exits the process on a connection that breaks under it).
func (b *x11) close() error {
	b.xc.Close()
	lib.mu.Lock()
	if lib.bound == b.display {
		robotgo.CloseMainDisplay()
		lib.bound = ""
	}
	lib.mu.Unlock()
	return nil
}
