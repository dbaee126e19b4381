package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"porthole/internal/wire"
)

// backend performs events on one OS (robotgo on X11, SendInput on
// Windows). core calls it with core.mu held, one event at a time, after it
// has validated the event and applied the view-only rule.
type backend interface {
	// move puts the pointer on pixel (x, y) of the whole screen (the X
	// screen; Windows' virtual desktop), inside one of the displays.
	move(x, y int) error
	button(b wire.Button, down bool) error
	// wheel scrolls notches with the wire's signs: positive is right and down.
	wheel(dx, dy int) error
	// key presses or releases the key of an allow-listed code.
	key(code string, down bool) error
	// checkPaste refuses text the backend cannot type, before anything
	// is released or typed.
	checkPaste(text string) error
	// paste types text, stopping early when ctx ends.
	paste(ctx context.Context, text string) error
	// close frees the backend; no call follows it.
	close() error
}

// sasBackend is a backend that can send the secure attention sequence
// (Ctrl+Alt+Del) itself, which injected keys cannot do (Windows' SendSAS).
type sasBackend interface {
	sas() error
}

// core is what every OS's injector shares: validation, the view-only rule,
// the displays' geometry, and the keys and buttons held down, so that
// release-all (on blur, on session end, on switching to view-only) leaves
// nothing stuck. It is safe for concurrent use; events are injected one at
// a time.
type core struct {
	rects    []wire.Display
	be       backend
	log      *slog.Logger
	viewOnly atomic.Bool

	mu      sync.Mutex // guards the fields below and orders injections
	keys    []string   // codes held down, in press order
	buttons [3]bool    // buttons held down, by wire.Button
	closed  bool
}

// checkDisplays validates the display rects of a Config: at least one, no
// more than the wire allows, none empty.
func checkDisplays(ds []wire.Display) error {
	if len(ds) == 0 || len(ds) > wire.MaxInputDisplay+1 {
		return fmt.Errorf("%w: %d display rects", ErrConfig, len(ds))
	}
	for i, d := range ds {
		if d.Width <= 0 || d.Height <= 0 {
			return fmt.Errorf("%w: display %d is %dx%d", ErrConfig, i, d.Width, d.Height)
		}
	}
	return nil
}

func newCore(cfg Config, be backend, component string) *core {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &core{rects: slices.Clone(cfg.Displays), be: be, log: log.With("component", component)}
	c.viewOnly.Store(cfg.ViewOnly)
	return c
}

// SetViewOnly switches the view-only guard. Switching to view-only first
// releases everything held, so no key stays down while events are refused.
func (c *core) SetViewOnly(on bool) error {
	c.viewOnly.Store(on)
	if on {
		return c.ReleaseAll()
	}
	return nil
}

// Inject performs one event. It refuses every event (including release)
// with ErrViewOnly in a view-only session, and ErrClosed after Close. A paste
// types rune by rune and stops early when ctx ends.
func (c *core) Inject(ctx context.Context, ev wire.Input) error {
	if c.viewOnly.Load() {
		return ErrViewOnly
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("input: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	// Checked again under the lock: SetViewOnly may have run while we waited.
	if c.viewOnly.Load() {
		return ErrViewOnly
	}
	switch ev.Kind {
	case wire.InputMove:
		return c.moveLocked(ev)
	case wire.InputButtonDown, wire.InputButtonUp:
		return c.buttonLocked(ev.Button, ev.Kind == wire.InputButtonDown)
	case wire.InputWheel:
		return c.be.wheel(ev.DX, ev.DY)
	case wire.InputKeyDown, wire.InputKeyUp:
		return c.keyLocked(ev)
	case wire.InputPaste:
		return c.pasteLocked(ctx, ev.Text)
	case wire.InputReleaseAll:
		return c.releaseLocked(true)
	}
	return fmt.Errorf("%w: kind %q", ErrUnsupported, ev.Kind)
}

// ReleaseAll releases every key and button held down. It works in
// view-only mode too (it is how view-only mode starts) and after Close.
func (c *core) ReleaseAll() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	return c.releaseLocked(true)
}

// Close releases everything held and frees the OS resources. It is
// idempotent; later Injects return ErrClosed.
func (c *core) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	err := c.releaseLocked(true)
	c.closed = true
	return errors.Join(err, c.be.close())
}

// screenPoint maps a move event to a pixel of the whole screen: the
// event's normalised position on its display, clamped inside the display.
func screenPoint(d wire.Display, ev wire.Input) (int, int) {
	x := d.X + min(max(wire.ScreenCoord(ev.X, d.Width), 0), d.Width-1)
	y := d.Y + min(max(wire.ScreenCoord(ev.Y, d.Height), 0), d.Height-1)
	return x, y
}

func (c *core) moveLocked(ev wire.Input) error {
	if ev.Display >= len(c.rects) {
		return fmt.Errorf("%w: %d of %d", ErrDisplay, ev.Display, len(c.rects))
	}
	return c.be.move(screenPoint(c.rects[ev.Display], ev))
}

var buttonNames = [...]string{wire.ButtonLeft: "left", wire.ButtonMiddle: "middle", wire.ButtonRight: "right"}

func (c *core) buttonLocked(b wire.Button, down bool) error {
	if err := c.be.button(b, down); err != nil {
		return fmt.Errorf("input: button %s %s: %w", buttonNames[b], upDown(down), err)
	}
	c.buttons[b] = down
	return nil
}

func upDown(down bool) string {
	if down {
		return "down"
	}
	return "up"
}

func (c *core) keyLocked(ev wire.Input) error {
	down := ev.Kind == wire.InputKeyDown
	var err error
	if down && ev.Code == "Delete" && c.heldLocked("ControlLeft", "ControlRight") && c.heldLocked("AltLeft", "AltRight") {
		err = c.sasLocked()
	} else {
		err = c.toggleKeyLocked(ev.Code, down)
	}
	if err != nil {
		return err
	}
	// The browser reports which modifiers are down with every key event. A
	// modifier we hold that the browser says is up lost its key-up (focus
	// change, dropped message): release it rather than leave it stuck.
	var errs []error
	for _, code := range slices.Clone(c.keys) {
		if bit, ok := modifierBit[code]; ok && code != ev.Code && ev.Mods&bit == 0 {
			errs = append(errs, c.toggleKeyLocked(code, false))
		}
	}
	return errors.Join(errs...)
}

// heldLocked reports whether any of codes is held down.
func (c *core) heldLocked(codes ...string) bool {
	for _, k := range c.keys {
		if slices.Contains(codes, k) {
			return true
		}
	}
	return false
}

// sasLocked serves Delete pressed while Ctrl and Alt are held: Windows
// ignores an injected Ctrl+Alt+Del, so a backend that can send the secure
// attention sequence does that instead; elsewhere it is three ordinary keys
// (an X session decides what they do).
func (c *core) sasLocked() error {
	s, ok := c.be.(sasBackend)
	if !ok {
		return c.toggleKeyLocked("Delete", true)
	}
	if err := s.sas(); err != nil {
		return fmt.Errorf("input: Ctrl+Alt+Del: %w", err)
	}
	return nil
}

func (c *core) toggleKeyLocked(code string, down bool) error {
	if _, ok := keys[code]; !ok {
		return fmt.Errorf("%w: key %q", ErrUnsupported, code)
	}
	if err := c.be.key(code, down); err != nil {
		return err
	}
	i := slices.Index(c.keys, code)
	switch {
	case down && i < 0:
		c.keys = append(c.keys, code)
	case !down && i >= 0:
		c.keys = slices.Delete(c.keys, i, i+1)
	}
	return nil
}

// releaseLocked releases held keys in reverse press order, then (if buttons)
// held buttons. It keeps going after an error so that one failure does not
// leave the rest stuck.
func (c *core) releaseLocked(buttons bool) error {
	var errs []error
	for i := len(c.keys) - 1; i >= 0; i-- {
		errs = append(errs, c.toggleKeyLocked(c.keys[i], false))
	}
	c.keys = nil // even if a release failed: the next ReleaseAll must not retry forever
	if buttons {
		for b, down := range c.buttons {
			if down {
				errs = append(errs, c.buttonLocked(wire.Button(b), false))
			}
		}
		c.buttons = [3]bool{}
	}
	if err := errors.Join(errs...); err != nil {
		c.log.Warn("release_failed", "err", err)
		return err
	}
	return nil
}

// pasteLocked types text. Held keys are released first: a paste usually
// follows Ctrl+V in the browser, and typing with Ctrl still down on the
// endpoint would send a string of shortcuts instead of text.
func (c *core) pasteLocked(ctx context.Context, text string) error {
	if err := c.be.checkPaste(text); err != nil {
		return err
	}
	if err := c.releaseLocked(false); err != nil {
		return err
	}
	return c.be.paste(ctx, text)
}
