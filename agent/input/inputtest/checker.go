package inputtest

import (
	"fmt"
	"image"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// EventKind says what a Checker saw.
type EventKind int

// The events a Checker records.
const (
	ButtonPress EventKind = iota + 1
	ButtonRelease
	KeyPress
	KeyRelease
)

// Event is one X input event delivered to the Checker's window.
type Event struct {
	Kind EventKind
	// Button is the X button (1 left, 2 middle, 3 right, 4/5 wheel up/down,
	// 6/7 wheel left/right) for button events.
	Button int
	// Keycode and Keysym identify the key for key events; Keysym is looked
	// up with the keyboard mapping current when the event arrived.
	Keycode int
	Keysym  uint32
	// State is the modifier and button mask before the event.
	State uint16
	// RootX, RootY are screen coordinates; X, Y are relative to the window.
	RootX, RootY int
	X, Y         int
	// Text is what a KeyPress types ("" for keys that type nothing).
	Text string
}

// Checker is a real window on an X display that records the input events
// reaching it. It holds the keyboard focus, so keystrokes go to it wherever
// the pointer is; button events reach it when the pointer is inside Rect.
type Checker struct {
	// Rect is the window's position on the screen.
	Rect image.Rectangle

	conn      *xgb.Conn
	win       xproto.Window
	done      chan struct{} // closed when the event loop ends
	closeOnce sync.Once

	mu     sync.Mutex // guards the fields below
	events []Event
	minKC  int
	perKC  int
	syms   []xproto.Keysym
}

// NewChecker opens a window at r on display and stops it in t.Cleanup.
func NewChecker(t testing.TB, display string, r image.Rectangle) *Checker {
	t.Helper()
	c, err := newChecker(display, r)
	if err != nil {
		t.Fatalf("inputtest: checker on %s: %v", display, err)
	}
	t.Cleanup(c.Close)
	return c
}

func newChecker(display string, r image.Rectangle) (*Checker, error) {
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, err
	}
	c := &Checker{Rect: r, conn: conn, done: make(chan struct{})}
	if err := c.loadKeymap(); err != nil {
		conn.Close()
		return nil, err
	}
	screen := xproto.Setup(conn).DefaultScreen(conn)
	win, err := xproto.NewWindowId(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.win = win
	mask := uint32(xproto.EventMaskKeyPress | xproto.EventMaskKeyRelease |
		xproto.EventMaskButtonPress | xproto.EventMaskButtonRelease | xproto.EventMaskStructureNotify)
	// Override-redirect: no window manager may move it off its rect.
	err = xproto.CreateWindowChecked(conn, screen.RootDepth, win, screen.Root,
		int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy()), 0,
		xproto.WindowClassInputOutput, screen.RootVisual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{screen.WhitePixel, 1, mask}).Check()
	if err == nil {
		err = xproto.MapWindowChecked(conn, win).Check()
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("create window: %w", err)
	}
	mapped := make(chan struct{})
	go c.loop(mapped)
	select {
	case <-mapped:
	case <-time.After(5 * time.Second):
		c.Close()
		return nil, fmt.Errorf("window never mapped")
	}
	if err := xproto.SetInputFocusChecked(conn, xproto.InputFocusParent, win, xproto.TimeCurrentTime).Check(); err != nil {
		c.Close()
		return nil, fmt.Errorf("focus: %w", err)
	}
	return c, nil
}

func (c *Checker) loadKeymap() error {
	setup := xproto.Setup(c.conn)
	n := byte(int(setup.MaxKeycode) - int(setup.MinKeycode) + 1)
	km, err := xproto.GetKeyboardMapping(c.conn, setup.MinKeycode, n).Reply()
	if err != nil {
		return fmt.Errorf("keyboard mapping: %w", err)
	}
	c.mu.Lock()
	c.minKC, c.perKC, c.syms = int(setup.MinKeycode), int(km.KeysymsPerKeycode), km.Keysyms
	c.mu.Unlock()
	return nil
}

func (c *Checker) loop(mapped chan struct{}) {
	defer close(c.done)
	for {
		ev, err := c.conn.WaitForEvent()
		if ev == nil && err == nil {
			return // connection closed
		}
		if err != nil {
			continue // an X error reply; keep listening
		}
		var e Event
		switch ev := ev.(type) {
		case xproto.MapNotifyEvent:
			if ev.Window == c.win && mapped != nil {
				close(mapped)
				mapped = nil
			}
			continue
		case xproto.MappingNotifyEvent:
			// Someone (robotgo's Unicode typing) remapped a keycode; the
			// key events after this one use the new mapping.
			_ = c.loadKeymap()
			continue
		case xproto.ButtonPressEvent:
			e = Event{Kind: ButtonPress, Button: int(ev.Detail), State: ev.State,
				RootX: int(ev.RootX), RootY: int(ev.RootY), X: int(ev.EventX), Y: int(ev.EventY)}
		case xproto.ButtonReleaseEvent:
			e = Event{Kind: ButtonRelease, Button: int(ev.Detail), State: ev.State,
				RootX: int(ev.RootX), RootY: int(ev.RootY), X: int(ev.EventX), Y: int(ev.EventY)}
		case xproto.KeyPressEvent:
			e = c.keyEvent(KeyPress, int(ev.Detail), ev.State, ev.RootX, ev.RootY, ev.EventX, ev.EventY)
		case xproto.KeyReleaseEvent:
			e = c.keyEvent(KeyRelease, int(ev.Detail), ev.State, ev.RootX, ev.RootY, ev.EventX, ev.EventY)
		default:
			continue
		}
		c.mu.Lock()
		c.events = append(c.events, e)
		c.mu.Unlock()
	}
}

func (c *Checker) keyEvent(k EventKind, code int, state uint16, rx, ry, x, y int16) Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := Event{Kind: k, Keycode: code, State: state, RootX: int(rx), RootY: int(ry), X: int(x), Y: int(y)}
	i := (code - c.minKC) * c.perKC
	if i < 0 || i+1 >= len(c.syms) {
		return e
	}
	sym := c.syms[i]
	if state&xproto.ModMaskShift != 0 && c.perKC > 1 && c.syms[i+1] != 0 {
		sym = c.syms[i+1]
	}
	e.Keysym = uint32(sym)
	if k == KeyPress {
		e.Text = keysymText(uint32(sym))
	}
	return e
}

// keysymText is the character a keysym types, for the keysyms tests use:
// Latin-1, Unicode keysyms, Return, Tab and the keypad digits.
func keysymText(sym uint32) string {
	switch {
	case sym >= 0x20 && sym <= 0x7e, sym >= 0xa0 && sym <= 0xff:
		return string(rune(sym))
	case sym >= 0x01000100 && sym <= 0x0110ffff:
		return string(rune(sym - 0x01000000))
	case sym == 0xff0d, sym == 0xff8d: // Return, KP_Enter
		return "\n"
	case sym == 0xff09: // Tab
		return "\t"
	case sym >= 0xffb0 && sym <= 0xffb9: // KP_0..KP_9
		return string(rune('0' + sym - 0xffb0))
	}
	return ""
}

// Events returns a copy of the events seen so far.
func (c *Checker) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// Reset forgets the events seen so far.
func (c *Checker) Reset() {
	c.mu.Lock()
	c.events = nil
	c.mu.Unlock()
}

// Text is what the key presses seen so far typed.
func (c *Checker) Text() string {
	var b strings.Builder
	for _, e := range c.Events() {
		b.WriteString(e.Text)
	}
	return b.String()
}

// WaitEvent waits up to timeout for an event matching match and returns it.
func (c *Checker) WaitEvent(timeout time.Duration, match func(Event) bool) (Event, bool) {
	deadline := time.Now().Add(timeout)
	for {
		for _, e := range c.Events() {
			if match(e) {
				return e, true
			}
		}
		if time.Now().After(deadline) {
			return Event{}, false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// WaitText waits up to timeout for Text to equal want and returns the last
// text seen.
func (c *Checker) WaitText(timeout time.Duration, want string) (string, bool) {
	deadline := time.Now().Add(timeout)
	for {
		got := c.Text()
		if got == want || time.Now().After(deadline) {
			return got, got == want
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Pointer asks the X server where the pointer is and which modifier keys
// and buttons are down (an X state mask, e.g. xproto.ModMaskShift).
func (c *Checker) Pointer() (x, y int, mask uint16, err error) {
	root := xproto.Setup(c.conn).DefaultScreen(c.conn).Root
	p, err := xproto.QueryPointer(c.conn, root).Reply()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("query pointer: %w", err)
	}
	return int(p.RootX), int(p.RootY), p.Mask, nil
}

// Close destroys the window and waits for the event loop. It is idempotent.
func (c *Checker) Close() {
	c.closeOnce.Do(func() {
		c.conn.Close()
		<-c.done
	})
}
