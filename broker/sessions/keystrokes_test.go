package sessions

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"porthole/broker/recording"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

// TestRecordedKeystrokes: by default a recording keeps that keys were
// pressed (with modifiers, and named when they type no character) but not
// which character: "hunter2" typed in a session cannot be read back from
// the sidecar. With recording.keystrokes = full every code is kept.
func TestRecordedKeystrokes(t *testing.T) {
	typed := []wire.Input{
		{Kind: wire.InputKeyDown, Code: "KeyH"}, {Kind: wire.InputKeyUp, Code: "KeyH"},
		{Kind: wire.InputKeyDown, Code: "Digit2", Mods: wire.ModShift},
		{Kind: wire.InputKeyDown, Code: "Space"}, {Kind: wire.InputKeyDown, Code: "Numpad7"},
		{Kind: wire.InputKeyDown, Code: "Enter"}, {Kind: wire.InputKeyDown, Code: "Tab"},
		{Kind: wire.InputKeyDown, Code: "Backspace"}, {Kind: wire.InputKeyDown, Code: "ArrowLeft"},
		{Kind: wire.InputKeyDown, Code: "F5"}, {Kind: wire.InputKeyDown, Code: "ControlLeft", Mods: wire.ModCtrl},
		{Kind: wire.InputKeyDown, Code: "KeyC", Mods: wire.ModCtrl},
		{Kind: wire.InputPaste, Text: "secret"},
	}
	sidecar := func(full bool) string {
		t.Helper()
		st, err := recording.OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		rec, err := st.New("s1", recording.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s := &Session{m: &Manager{cfg: Config{Clock: clock.Real{}}}}
		s.rec.Store(rec)
		s.recKeysFull.Store(full)
		for _, in := range typed {
			msg, err := wire.EncodeInput(in)
			if err != nil {
				t.Fatal(err)
			}
			s.recordInput(in, msg)
		}
		if _, err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(st.Dir(), "s1", recording.SidecarName))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	presence := sidecar(false)
	for _, hidden := range []string{"KeyH", "Digit2", "Space", "Numpad7", "KeyC", "secret"} {
		if strings.Contains(presence, hidden) {
			t.Errorf("presence recording keeps %s:\n%s", hidden, presence)
		}
	}
	for _, want := range []string{`"c":"key","t":"kdown"`, `"c":"key","t":"kup"`, `"c":"key","m":1,"t":"kdown"`, `"c":"Enter"`, `"c":"Tab"`,
		`"c":"Backspace"`, `"c":"ArrowLeft"`, `"c":"F5"`, `"c":"ControlLeft","m":2`, `"c":"key","m":2`, `"len":6`} {
		if !strings.Contains(presence, want) {
			t.Errorf("presence recording lacks %s:\n%s", want, presence)
		}
	}
	if n := strings.Count(presence, `"kind":"input"`); n != len(typed) {
		t.Errorf("%d input events, want %d", n, len(typed))
	}
	full := sidecar(true)
	for _, want := range []string{`"c":"KeyH"`, `"c":"Digit2"`, `"c":"Space"`, `"c":"KeyC"`} {
		if !strings.Contains(full, want) {
			t.Errorf("full recording lacks %s:\n%s", want, full)
		}
	}
	if strings.Contains(full, "secret") {
		t.Error("a paste's text is kept even in full mode")
	}
}
