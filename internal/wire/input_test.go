package wire

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeInputValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Input
		// canon is EncodeInput's output when it differs from in.
		canon string
	}{
		{"move", `{"v":1,"t":"move","x":0,"y":65535}`, Input{Kind: InputMove, X: 0, Y: 65535}, ""},
		{"move display", `{"v":1,"t":"move","d":1,"x":32768,"y":1}`, Input{Kind: InputMove, Display: 1, X: 32768, Y: 1}, ""},
		{"move d 0 explicit", `{"v":1,"t":"move","d":0,"x":5,"y":6}`, Input{Kind: InputMove, X: 5, Y: 6}, `{"v":1,"t":"move","x":5,"y":6}`},
		{"down left", `{"v":1,"t":"down","b":0}`, Input{Kind: InputButtonDown, Button: ButtonLeft}, ""},
		{"up right", `{"v":1,"t":"up","b":2}`, Input{Kind: InputButtonUp, Button: ButtonRight}, ""},
		{"wheel", `{"v":1,"t":"wheel","dx":-32,"dy":32}`, Input{Kind: InputWheel, DX: -32, DY: 32}, ""},
		{"wheel one axis", `{"v":1,"t":"wheel","dx":0,"dy":-1}`, Input{Kind: InputWheel, DY: -1}, ""},
		{"key down mods", `{"v":1,"t":"kdown","c":"KeyA","m":15}`, Input{Kind: InputKeyDown, Code: "KeyA", Mods: ModShift | ModCtrl | ModAlt | ModMeta}, ""},
		{"key up", `{"v":1,"t":"kup","c":"ShiftLeft"}`, Input{Kind: InputKeyUp, Code: "ShiftLeft"}, ""},
		{"key m 0 explicit", `{"v":1,"t":"kup","c":"F24","m":0}`, Input{Kind: InputKeyUp, Code: "F24"}, `{"v":1,"t":"kup","c":"F24"}`},
		{"paste", `{"v":1,"t":"paste","s":"Hello, World!\n\té 😀 <&>"}`, Input{Kind: InputPaste, Text: "Hello, World!\n\té 😀 <&>"}, ""},
		{"paste escaped", `{"v":1,"t":"paste","s":"\u0041\ud83d\ude00"}`, Input{Kind: InputPaste, Text: "A😀"}, `{"v":1,"t":"paste","s":"A😀"}`},
		{"paste max", `{"v":1,"t":"paste","s":"` + strings.Repeat("é", MaxPasteRunes) + `"}`, Input{Kind: InputPaste, Text: strings.Repeat("é", MaxPasteRunes)}, ""},
		{"release", `{"v":1,"t":"release"}`, Input{Kind: InputReleaseAll}, ""},
		{"whitespace", " {\"v\":1,\"t\":\"release\"}\n", Input{Kind: InputReleaseAll}, `{"v":1,"t":"release"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeInput([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeInput: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("DecodeInput (-want +got):\n%s", d)
			}
			enc, err := EncodeInput(got)
			if err != nil {
				t.Fatalf("EncodeInput: %v", err)
			}
			want := tt.canon
			if want == "" {
				want = tt.in
			}
			if string(enc) != want {
				t.Fatalf("EncodeInput = %s, want %s", enc, want)
			}
		})
	}
}

func TestDecodeInputRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"too large", `{"v":1,"t":"paste","s":"` + strings.Repeat("a", MaxInputSize) + `"}`, ErrTooLarge},
		{"invalid utf8", "{\"v\":1,\"t\":\"paste\",\"s\":\"a\xff\"}", ErrMalformed},
		{"empty", ``, ErrMalformed},
		{"not json", `move 1 2`, ErrMalformed},
		{"array", `[1,2]`, ErrMalformed},
		{"null", `null`, ErrMalformed},
		{"string", `"move"`, ErrMalformed},
		{"truncated", `{"v":1,"t":"move","x":1`, ErrMalformed},
		{"trailing data", `{"v":1,"t":"release"}{}`, ErrMalformed},
		{"trailing garbage", `{"v":1,"t":"release"} x`, ErrMalformed},
		{"unknown field", `{"v":1,"t":"release","z":1}`, ErrMalformed},
		{"float coordinate", `{"v":1,"t":"move","x":1.5,"y":1}`, ErrMalformed},
		{"huge coordinate", `{"v":1,"t":"move","x":1e99,"y":1}`, ErrMalformed},
		{"string coordinate", `{"v":1,"t":"move","x":"1","y":1}`, ErrMalformed},
		{"numeric kind", `{"v":1,"t":3}`, ErrMalformed},
		{"missing version", `{"t":"release"}`, ErrVersion},
		{"version 0", `{"v":0,"t":"release"}`, ErrVersion},
		{"version 2", `{"v":2,"t":"release"}`, ErrVersion},
		{"missing kind", `{"v":1}`, ErrInvalid},
		{"unknown kind", `{"v":1,"t":"click"}`, ErrInvalid},
		{"empty kind", `{"v":1,"t":""}`, ErrInvalid},
		{"move missing y", `{"v":1,"t":"move","x":1}`, ErrInvalid},
		{"move null x", `{"v":1,"t":"move","x":null,"y":1}`, ErrInvalid},
		{"move with button", `{"v":1,"t":"move","x":1,"y":1,"b":0}`, ErrInvalid},
		{"move x negative", `{"v":1,"t":"move","x":-1,"y":1}`, ErrInvalid},
		{"move x too big", `{"v":1,"t":"move","x":65536,"y":1}`, ErrInvalid},
		{"move y too big", `{"v":1,"t":"move","x":1,"y":70000}`, ErrInvalid},
		{"move display negative", `{"v":1,"t":"move","d":-1,"x":1,"y":1}`, ErrInvalid},
		{"move display too big", `{"v":1,"t":"move","d":16,"x":1,"y":1}`, ErrInvalid},
		{"down missing button", `{"v":1,"t":"down"}`, ErrInvalid},
		{"down button 3", `{"v":1,"t":"down","b":3}`, ErrInvalid},
		{"up button negative", `{"v":1,"t":"up","b":-1}`, ErrInvalid},
		{"up button huge", `{"v":1,"t":"up","b":4294967296}`, ErrInvalid},
		{"down with coordinates", `{"v":1,"t":"down","b":0,"x":1}`, ErrInvalid},
		{"wheel zero", `{"v":1,"t":"wheel","dx":0,"dy":0}`, ErrInvalid},
		{"wheel missing dx", `{"v":1,"t":"wheel","dy":1}`, ErrInvalid},
		{"wheel dy too big", `{"v":1,"t":"wheel","dx":0,"dy":33}`, ErrInvalid},
		{"wheel dx too small", `{"v":1,"t":"wheel","dx":-33,"dy":0}`, ErrInvalid},
		{"key missing code", `{"v":1,"t":"kdown"}`, ErrInvalid},
		{"key unknown code", `{"v":1,"t":"kdown","c":"AudioVolumeUp"}`, ErrInvalid},
		{"key lowercase code", `{"v":1,"t":"kdown","c":"keya"}`, ErrInvalid},
		{"key character not code", `{"v":1,"t":"kdown","c":"a"}`, ErrInvalid},
		{"key empty code", `{"v":1,"t":"kup","c":""}`, ErrInvalid},
		{"key modifiers too big", `{"v":1,"t":"kdown","c":"KeyA","m":16}`, ErrInvalid},
		{"key modifiers negative", `{"v":1,"t":"kdown","c":"KeyA","m":-1}`, ErrInvalid},
		{"key with text", `{"v":1,"t":"kdown","c":"KeyA","s":"a"}`, ErrInvalid},
		{"paste missing", `{"v":1,"t":"paste"}`, ErrInvalid},
		{"paste empty", `{"v":1,"t":"paste","s":""}`, ErrInvalid},
		{"paste too long", `{"v":1,"t":"paste","s":"` + strings.Repeat("a", MaxPasteRunes+1) + `"}`, ErrInvalid},
		{"paste control char", `{"v":1,"t":"paste","s":"a\u0007b"}`, ErrInvalid},
		{"paste carriage return", `{"v":1,"t":"paste","s":"a\r\nb"}`, ErrInvalid},
		{"paste escape sequence", `{"v":1,"t":"paste","s":"\u001b[2J"}`, ErrInvalid},
		{"paste nul", `{"v":1,"t":"paste","s":"\u0000"}`, ErrInvalid},
		{"paste lone surrogate", `{"v":1,"t":"paste","s":"\ud800"}`, ErrInvalid},
		{"paste with modifiers", `{"v":1,"t":"paste","s":"a","m":1}`, ErrInvalid},
		{"release with field", `{"v":1,"t":"release","d":0}`, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeInput([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeInput(%.60q) = %+v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got != (Input{}) {
				t.Fatalf("DecodeInput returned %+v with an error", got)
			}
		})
	}
}

func TestEncodeInputRejects(t *testing.T) {
	tests := []struct {
		name string
		in   Input
	}{
		{"zero", Input{}},
		{"unknown kind", Input{Kind: "click"}},
		{"move out of range", Input{Kind: InputMove, X: MaxCoord + 1}},
		{"move with code", Input{Kind: InputMove, Code: "KeyA"}},
		{"button out of range", Input{Kind: InputButtonDown, Button: 3}},
		{"button with text", Input{Kind: InputButtonUp, Text: "x"}},
		{"wheel zero", Input{Kind: InputWheel}},
		{"wheel with display", Input{Kind: InputWheel, DY: 1, Display: 1}},
		{"key not allowed", Input{Kind: InputKeyDown, Code: "Power"}},
		{"key bad modifiers", Input{Kind: InputKeyUp, Code: "KeyA", Mods: 16}},
		{"key with position", Input{Kind: InputKeyUp, Code: "KeyA", X: 1}},
		{"paste invalid utf8", Input{Kind: InputPaste, Text: "a\xffb"}},
		{"paste with button", Input{Kind: InputPaste, Text: "a", Button: ButtonRight}},
		{"release with text", Input{Kind: InputReleaseAll, Text: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeInput(tt.in)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("EncodeInput(%+v) = %s, %v; want ErrInvalid", tt.in, b, err)
			}
		})
	}
}

func TestInputNotAnEnvelope(t *testing.T) {
	// The input format must not be mistaken for (or registered as) an
	// Envelope message.
	b, err := EncodeInput(Input{Kind: InputReleaseAll})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b); err == nil {
		t.Fatalf("Decode accepted input message %s", b)
	}
	if _, ok := registry[string(InputReleaseAll)]; ok {
		t.Fatal("input kind registered as an envelope type")
	}
}

func TestInputMaxPasteFitsMaxInputSize(t *testing.T) {
	// The worst case the browser can send: every rune of a maximal paste
	// escaped as a UTF-16 surrogate pair (12 bytes).
	msg := `{"v":1,"t":"paste","s":"` + strings.Repeat(`\ud83d\ude00`, MaxPasteRunes) + `"}`
	if _, err := DecodeInput([]byte(msg)); err != nil {
		t.Fatalf("maximal escaped paste (%d bytes) refused: %v", len(msg), err)
	}
	// And what EncodeInput produces for the most expanding rune.
	b, err := EncodeInput(Input{Kind: InputPaste, Text: strings.Repeat("\u2028", MaxPasteRunes)})
	if err == nil && len(b) > MaxInputSize {
		t.Fatalf("EncodeInput made %d bytes > MaxInputSize", len(b))
	}
}

func TestCoordRoundTrip(t *testing.T) {
	for _, size := range []int{1, 2, 3, 360, 640, 720, 1080, 1280, 1920, 7680, 16384} {
		for px := 0; px < size; px++ {
			n := NormCoord(px, size)
			if n < 0 || n > MaxCoord {
				t.Fatalf("NormCoord(%d, %d) = %d out of range", px, size, n)
			}
			if size > 1 {
				if got := ScreenCoord(n, size); got != px {
					t.Fatalf("size %d: ScreenCoord(NormCoord(%d)=%d) = %d", size, px, n, got)
				}
			}
		}
	}
	tests := []struct{ n, size, want int }{
		{0, 1280, 0},
		{MaxCoord, 1280, 1279},
		{-5, 1280, 0},
		{MaxCoord + 9, 1280, 1279},
		{NormCoord(320, 640), 1280, 641}, // 640x360 video on a 1280x720 screen: 320*1279/639 = 640.5
		{NormCoord(639, 640), 1280, 1279},
		{NormCoord(180, 360), 720, 361}, // 180*719/359 = 360.5
		{NormCoord(0, 640), 1280, 0},
		{12345, 0, 0},
	}
	for _, tt := range tests {
		if got := ScreenCoord(tt.n, tt.size); got != tt.want {
			t.Errorf("ScreenCoord(%d, %d) = %d, want %d", tt.n, tt.size, got, tt.want)
		}
	}
	if got := NormCoord(-3, 640); got != 0 {
		t.Errorf("NormCoord(-3) = %d", got)
	}
	if got := NormCoord(900, 640); got != MaxCoord {
		t.Errorf("NormCoord(900, 640) = %d", got)
	}
}

func TestKeyCodes(t *testing.T) {
	codes := KeyCodes()
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c] {
			t.Errorf("duplicate code %q", c)
		}
		seen[c] = true
		if !IsKeyCode(c) {
			t.Errorf("IsKeyCode(%q) = false", c)
		}
	}
	for _, c := range []string{"KeyA", "KeyZ", "Digit0", "F1", "F24", "Enter", "Escape", "Tab",
		"Backspace", "Delete", "Home", "End", "PageUp", "PageDown", "Insert", "Space",
		"ArrowUp", "ShiftLeft", "ShiftRight", "ControlLeft", "AltRight", "MetaLeft",
		"Numpad0", "NumpadEnter", "Slash", "Backquote"} {
		if !seen[c] {
			t.Errorf("KeyCodes lacks %q", c)
		}
	}
	for _, c := range []string{"", "F25", "Power", "AudioVolumeMute", "ContextMenu", "a", "KEYA"} {
		if IsKeyCode(c) {
			t.Errorf("IsKeyCode(%q) = true", c)
		}
	}
	codes[0] = "Power"
	if IsKeyCode("Power") || KeyCodes()[0] != "KeyA" {
		t.Fatal("KeyCodes exposes the allow-list to writes")
	}
}
