package input

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"porthole/internal/wire"
)

// fakeBackend records what core asks of a backend, as strings.
type fakeBackend struct {
	mu     sync.Mutex
	calls  []string
	fail   map[string]error // call → error
	sasErr error
	closed int
}

func (f *fakeBackend) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.fail[call]
}

func (f *fakeBackend) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeBackend) move(x, y int) error { return f.record(fmt.Sprintf("move %d,%d", x, y)) }
func (f *fakeBackend) button(b wire.Button, down bool) error {
	return f.record(fmt.Sprintf("button %s %s", buttonNames[b], upDown(down)))
}
func (f *fakeBackend) wheel(dx, dy int) error { return f.record(fmt.Sprintf("wheel %d,%d", dx, dy)) }
func (f *fakeBackend) key(code string, down bool) error {
	return f.record(fmt.Sprintf("key %s %s", code, upDown(down)))
}
func (f *fakeBackend) checkPaste(text string) error {
	if strings.Contains(text, "☃") {
		return ErrUnsupported
	}
	return nil
}
func (f *fakeBackend) paste(_ context.Context, text string) error { return f.record("paste " + text) }
func (f *fakeBackend) close() error                               { f.closed++; return nil }

// withSAS adds the Windows ability to send Ctrl+Alt+Del.
type withSAS struct{ *fakeBackend }

func (w withSAS) sas() error { w.record("sas"); return w.sasErr }

var twoScreens = []wire.Display{
	{Index: 0, X: 0, Y: 0, Width: 1280, Height: 720, Primary: true},
	{Index: 1, X: -1920, Y: -200, Width: 1920, Height: 1080},
}

func newFakeCore(t *testing.T, viewOnly bool) (*core, *fakeBackend) {
	t.Helper()
	f := &fakeBackend{}
	return newCore(Config{Displays: twoScreens, ViewOnly: viewOnly}, f, "test"), f
}

func injectAll(t *testing.T, c *core, evs ...wire.Input) {
	t.Helper()
	for _, ev := range evs {
		if err := c.Inject(context.Background(), ev); err != nil {
			t.Fatalf("Inject(%+v): %v", ev, err)
		}
	}
}

func down(code string, mods wire.Modifiers) wire.Input {
	return wire.Input{Kind: wire.InputKeyDown, Code: code, Mods: mods}
}

func up(code string, mods wire.Modifiers) wire.Input {
	return wire.Input{Kind: wire.InputKeyUp, Code: code, Mods: mods}
}

func TestCoreMovesOnTheRightDisplay(t *testing.T) {
	c, f := newFakeCore(t, false)
	injectAll(t, c,
		wire.Input{Kind: wire.InputMove, Display: 0, X: 0, Y: 0},
		wire.Input{Kind: wire.InputMove, Display: 0, X: wire.MaxCoord, Y: wire.MaxCoord},
		wire.Input{Kind: wire.InputMove, Display: 1, X: wire.NormCoord(100, 1920), Y: wire.NormCoord(50, 1080)},
	)
	want := []string{"move 0,0", "move 1279,719", "move -1820,-150"}
	if diff := cmp.Diff(want, f.take()); diff != "" {
		t.Fatalf("moves (-want +got):\n%s", diff)
	}
	err := c.Inject(context.Background(), wire.Input{Kind: wire.InputMove, Display: 2, X: 1, Y: 1})
	if !errors.Is(err, ErrDisplay) {
		t.Fatalf("move to display 2 = %v, want ErrDisplay", err)
	}
}

func TestCoreReleasesWhatIsHeld(t *testing.T) {
	c, f := newFakeCore(t, false)
	injectAll(t, c,
		down("ShiftLeft", wire.ModShift), down("KeyA", wire.ModShift),
		wire.Input{Kind: wire.InputButtonDown, Button: wire.ButtonRight},
		wire.Input{Kind: wire.InputReleaseAll},
	)
	want := []string{"key ShiftLeft down", "key KeyA down", "button right down",
		"key KeyA up", "key ShiftLeft up", "button right up"}
	if diff := cmp.Diff(want, f.take()); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	// A second release has nothing left to release.
	injectAll(t, c, wire.Input{Kind: wire.InputReleaseAll})
	if got := f.take(); len(got) != 0 {
		t.Fatalf("second release sent %v", got)
	}
	// Close releases too, once, and frees the backend once.
	injectAll(t, c, down("ControlLeft", wire.ModCtrl))
	f.take()
	for range 2 {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"key ControlLeft up"}, f.take()); diff != "" || f.closed != 1 {
		t.Fatalf("Close: closed %d times, calls (-want +got):\n%s", f.closed, diff)
	}
	if err := c.Inject(context.Background(), down("KeyA", 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Inject after Close = %v", err)
	}
}

func TestCoreReleasesLostModifier(t *testing.T) {
	c, f := newFakeCore(t, false)
	// Ctrl's key-up was lost: the next key says Ctrl is not down.
	injectAll(t, c, down("ControlLeft", wire.ModCtrl), down("KeyB", 0))
	want := []string{"key ControlLeft down", "key KeyB down", "key ControlLeft up"}
	if diff := cmp.Diff(want, f.take()); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestCorePasteReleasesKeysFirst(t *testing.T) {
	c, f := newFakeCore(t, false)
	injectAll(t, c, down("ControlLeft", wire.ModCtrl), wire.Input{Kind: wire.InputPaste, Text: "hi"})
	want := []string{"key ControlLeft down", "key ControlLeft up", "paste hi"}
	if diff := cmp.Diff(want, f.take()); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	// Refused text releases nothing and types nothing.
	injectAll(t, c, down("ShiftLeft", wire.ModShift))
	f.take()
	if err := c.Inject(context.Background(), wire.Input{Kind: wire.InputPaste, Text: "☃"}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("paste refused by the backend = %v", err)
	}
	if got := f.take(); len(got) != 0 {
		t.Fatalf("refused paste sent %v", got)
	}
}

func TestCoreViewOnly(t *testing.T) {
	c, f := newFakeCore(t, true)
	for _, ev := range []wire.Input{
		{Kind: wire.InputMove, X: 1, Y: 1}, {Kind: wire.InputButtonDown}, down("KeyA", 0),
		{Kind: wire.InputPaste, Text: "x"}, {Kind: wire.InputReleaseAll},
	} {
		if err := c.Inject(context.Background(), ev); !errors.Is(err, ErrViewOnly) {
			t.Fatalf("view-only Inject(%+v) = %v", ev, err)
		}
	}
	if got := f.take(); len(got) != 0 {
		t.Fatalf("view-only session reached the backend: %v", got)
	}
	// Leaving view-only lets events through; entering it releases held keys.
	if err := c.SetViewOnly(false); err != nil {
		t.Fatal(err)
	}
	injectAll(t, c, down("AltLeft", wire.ModAlt))
	if err := c.SetViewOnly(true); err != nil {
		t.Fatal(err)
	}
	want := []string{"key AltLeft down", "key AltLeft up"}
	if diff := cmp.Diff(want, f.take()); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// The portal's Ctrl+Alt+Del button sends Ctrl, Alt, Delete: a backend that
// can send the secure attention sequence gets that instead of Delete.
func TestCoreCtrlAltDel(t *testing.T) {
	combo := []wire.Input{
		down("ControlLeft", wire.ModCtrl), down("AltLeft", wire.ModCtrl|wire.ModAlt), down("Delete", wire.ModCtrl|wire.ModAlt),
		up("Delete", wire.ModCtrl|wire.ModAlt), up("AltLeft", wire.ModCtrl), up("ControlLeft", 0),
	}
	t.Run("windows", func(t *testing.T) {
		f := &fakeBackend{}
		c := newCore(Config{Displays: twoScreens}, withSAS{f}, "test")
		injectAll(t, c, combo...)
		want := []string{"key ControlLeft down", "key AltLeft down", "sas", "key Delete up", "key AltLeft up", "key ControlLeft up"}
		if diff := cmp.Diff(want, f.take()); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		// Delete alone, or with only Ctrl, stays a key.
		injectAll(t, c, down("Delete", 0), up("Delete", 0), down("ControlRight", wire.ModCtrl), down("Delete", wire.ModCtrl))
		if got := f.take(); strings.Contains(strings.Join(got, ";"), "sas") {
			t.Fatalf("SAS without Ctrl+Alt: %v", got)
		}
		// A refused SAS is an error naming it; nothing else is pressed.
		injectAll(t, c, wire.Input{Kind: wire.InputReleaseAll})
		f.sasErr = errSASDenied
		f.take()
		err := c.Inject(context.Background(), combo[0])
		err = errors.Join(err, c.Inject(context.Background(), combo[1]))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Inject(context.Background(), combo[2])
		if !errors.Is(err, errSASDenied) || !strings.Contains(err.Error(), "Ctrl+Alt+Del") {
			t.Fatalf("refused SAS = %v", err)
		}
	})
	t.Run("x11", func(t *testing.T) {
		c, f := newFakeCore(t, false)
		injectAll(t, c, combo...)
		want := []string{"key ControlLeft down", "key AltLeft down", "key Delete down", "key Delete up", "key AltLeft up", "key ControlLeft up"}
		if diff := cmp.Diff(want, f.take()); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
}

func TestCheckDisplays(t *testing.T) {
	many := make([]wire.Display, wire.MaxInputDisplay+2)
	for i := range many {
		many[i] = wire.Display{Index: i, Width: 10, Height: 10}
	}
	for _, ds := range [][]wire.Display{nil, many, {{Width: 0, Height: 10}}} {
		if err := checkDisplays(ds); !errors.Is(err, ErrConfig) {
			t.Errorf("checkDisplays(%d rects) = %v, want ErrConfig", len(ds), err)
		}
	}
	if err := checkDisplays(twoScreens); err != nil {
		t.Error(err)
	}
}
