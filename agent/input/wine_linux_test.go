package input

// The Windows injector, run for real under Wine on Xvfb: a Windows probe
// (testdata/wininput) injects with SendInput; xdotool reads where the X
// pointer went, and a Wine window with an edit control (internal/wine's
// Edit; Wine delivers SendInput only to Wine windows) shows what was typed.

import (
	"bufio"
	"encoding/json"
	"image"
	"io"
	"strings"
	"testing"
	"time"

	"porthole/internal/wine"
	"porthole/internal/wire"
	"porthole/internal/xvfb"
)

// winInjector is the probe running under Wine.
type winInjector struct {
	in  io.WriteCloser
	out *bufio.Reader
}

func (w *winInjector) inject(t *testing.T, evs ...wire.Input) {
	t.Helper()
	for _, ev := range evs {
		b, _ := json.Marshal(ev)
		if _, err := w.in.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
		line, err := w.out.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ok" {
			t.Fatalf("wininput %+v: %q %v", ev, line, err)
		}
	}
}

func startWinInjector(t *testing.T, p *wine.Prefix, display string, displays []wire.Display) *winInjector {
	t.Helper()
	exe := wine.BuildGoT(t, wine.BuildOptions{Pkg: "./testdata/wininput"})
	ds, _ := json.Marshal(displays)
	pr := p.StartT(t, display, exe, string(ds))
	return &winInjector{in: pr.In, out: pr.Out}
}

// typeKeys is text typed key by key on a US layout, Shift held for capitals
// and shifted punctuation, as the portal's page sends it.
func typeKeys(text string) []wire.Input {
	codes := map[rune]string{' ': "Space", ',': "Comma", '.': "Period", '!': "Digit1", '\n': "Enter"}
	var evs []wire.Input
	for _, r := range text {
		code, shift := codes[r], r == '!'
		switch {
		case r >= 'a' && r <= 'z':
			code = "Key" + strings.ToUpper(string(r))
		case r >= 'A' && r <= 'Z':
			code, shift = "Key"+string(r), true
		case r >= '0' && r <= '9':
			code = "Digit" + string(r)
		}
		var m wire.Modifiers
		if shift {
			m = wire.ModShift
			evs = append(evs, wire.Input{Kind: wire.InputKeyDown, Code: "ShiftLeft", Mods: m})
		}
		evs = append(evs, wire.Input{Kind: wire.InputKeyDown, Code: code, Mods: m}, wire.Input{Kind: wire.InputKeyUp, Code: code, Mods: m})
		if shift {
			evs = append(evs, wire.Input{Kind: wire.InputKeyUp, Code: "ShiftLeft"})
		}
	}
	return evs
}

// TestWineSendInput: SendInput under Wine moves the X pointer exactly, on
// each of two displays of one virtual desktop; a click focuses a Wine edit
// control, and keys by scan code (with Shift) and a Unicode paste land in
// it.
func TestWineSendInput(t *testing.T) {
	srv := xvfb.StartT(t, xvfb.Options{Width: 2560, Height: 720})
	p := wine.NewPrefixT(t)
	editRect := image.Rect(1500, 300, 2100, 500)
	edit := wine.StartEditT(t, p, srv.Display, "Porthole input probe", editRect)
	w := startWinInjector(t, p, srv.Display, twoMonitors)

	// Not 0,0 first: Wine's own idea of the cursor starts there, and a
	// move to where Wine thinks the cursor is warps nothing.
	for _, tc := range []struct{ d, x, y int }{{0, 1279, 719}, {0, 0, 0}, {0, 640, 361}, {1, 0, 0}, {1, 100, 50}, {1, 1279, 719}} {
		w.inject(t, moveTo(tc.d, tc.x, tc.y))
		wx, wy := twoMonitors[tc.d].X+tc.x, twoMonitors[tc.d].Y+tc.y
		var gx, gy int
		deadline := time.Now().Add(5 * time.Second)
		for {
			if gx, gy = xdotoolLocation(t, srv); gx == wx && gy == wy || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if gx != wx || gy != wy {
			t.Fatalf("move to display %d (%d,%d): X pointer at %d,%d, want %d,%d", tc.d, tc.x, tc.y, gx, gy, wx, wy)
		}
	}

	// Typing before the click reaches nothing: the edit has no focus yet.
	w.inject(t, typeKeys("x")...)
	w.inject(t, moveTo(1, editRect.Min.X-1280+50, editRect.Min.Y+40),
		wire.Input{Kind: wire.InputButtonDown, Button: wire.ButtonLeft},
		wire.Input{Kind: wire.InputButtonUp, Button: wire.ButtonLeft})
	w.inject(t, typeKeys("Hello, World 42!")...)
	if got, ok := edit.WaitText("Hello, World 42!", 10*time.Second); !ok {
		t.Fatalf("typed keys arrived as %q", got)
	}
	w.inject(t, wire.Input{Kind: wire.InputPaste, Text: " – ünïcödé ✓"})
	if got, ok := edit.WaitText("Hello, World 42! – ünïcödé ✓", 10*time.Second); !ok {
		t.Fatalf("pasted text arrived as %q", got)
	}
	// Backspace by scan code, and a release-all with Shift held.
	w.inject(t, wire.Input{Kind: wire.InputKeyDown, Code: "Backspace"}, wire.Input{Kind: wire.InputKeyUp, Code: "Backspace"},
		wire.Input{Kind: wire.InputKeyDown, Code: "ShiftLeft", Mods: wire.ModShift}, wire.Input{Kind: wire.InputReleaseAll})
	w.inject(t, typeKeys("k")...)
	if got, ok := edit.WaitText("Hello, World 42! – ünïcödé k", 10*time.Second); !ok {
		t.Fatalf("after Backspace, release-all and k: %q (a stuck Shift would type K)", got)
	}
}
