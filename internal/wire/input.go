package wire

// Remote-control input, browser → broker → agent, on the session's WebRTC
// data channel "input". It does not use the websocket Envelope: input is the
// latency-critical path (a pointer move is sent per animation frame), so each
// data-channel message is one small flat JSON object:
//
//	{"v":1,"t":"move","d":0,"x":32768,"y":16384}  pointer to a normalised position on display d
//	{"v":1,"t":"down","b":0}                       button down: 0 left, 1 middle, 2 right (MouseEvent.button)
//	{"v":1,"t":"up","b":0}                         button up
//	{"v":1,"t":"wheel","dx":0,"dy":3}              wheel notches; dy>0 scrolls down, dx>0 right (WheelEvent sign)
//	{"v":1,"t":"kdown","c":"KeyA","m":1}           key down by KeyboardEvent.code, m = modifier state
//	{"v":1,"t":"kup","c":"KeyA"}                   key up
//	{"v":1,"t":"paste","s":"Hello"}                text typed as keystrokes
//	{"v":1,"t":"release"}                          release every key and button (sent on blur)
//
// Field rules (DecodeInput enforces all of them):
//   - "v" must be InputVersion; "t" must be one of the kinds above.
//   - A message carries only the fields of its kind; "d" (default 0) and "m"
//     (default 0) are optional, every other field of the kind is required.
//   - Coordinates are normalised, not pixels, so the page needs no knowledge of
//     the screen and the agent none of the video scaling: x = round(px*65535/(w-1))
//     for a pixel px of a video w pixels wide (NormCoord), and the agent maps
//     back with round(x*(W-1)/65535) on a screen W pixels wide (ScreenCoord).
//     This is exact when w == W. d is the display index of the agent's
//     inventory (0..MaxInputDisplay).
//   - dx, dy are in [-MaxWheel, MaxWheel] and not both zero. The page turns
//     pixel deltas into notches (about 100 px each) and accumulates the rest.
//   - c is a physical key (KeyboardEvent.code) from the allow-list KeyCodes();
//     the remote keyboard layout decides the character, as on a real keyboard.
//     m is a bitmask of ModShift|ModCtrl|ModAlt|ModMeta from the event; the
//     agent uses it to release modifiers whose key-up was lost.
//   - s is 1..MaxPasteRunes runes of valid UTF-8, each printable
//     (unicode.IsPrint) or '\n' or '\t', and not U+FFFD (what a lone
//     surrogate escape decodes to). The page normalises "\r\n" to "\n".
//   - A message is at most MaxInputSize bytes.
//
// Buttons carry no position: the page sends a move before a button event.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"
)

// InputVersion is the version of the input data-channel protocol. It is
// separate from Version so that the input format can evolve on its own.
const InputVersion = 1

// Bounds of the input protocol.
const (
	// MaxInputSize bounds one data-channel message; it leaves room for a
	// maximal paste whose every rune is JSON-escaped, and stays under the
	// 64 KiB SCTP message size browsers accept by default.
	MaxInputSize = 60 << 10
	// MaxPasteRunes bounds a paste, which the agent types key by key.
	MaxPasteRunes = 4096
	// MaxWheel bounds the notches of one wheel message.
	MaxWheel = 32
	// MaxCoord is the largest normalised coordinate (the right or bottom edge).
	MaxCoord = 65535
	// MaxInputDisplay is the largest display index (Inventory allows 16 displays).
	MaxInputDisplay = 15
)

// InputKind says what an Input does; its value is the "t" field on the wire.
type InputKind string

// The input kinds.
const (
	InputMove       InputKind = "move"
	InputButtonDown InputKind = "down"
	InputButtonUp   InputKind = "up"
	InputWheel      InputKind = "wheel"
	InputKeyDown    InputKind = "kdown"
	InputKeyUp      InputKind = "kup"
	InputPaste      InputKind = "paste"
	InputReleaseAll InputKind = "release"
)

// Button is a pointer button, numbered as MouseEvent.button numbers them.
type Button uint8

// The buttons a remote user can press.
const (
	ButtonLeft   Button = 0
	ButtonMiddle Button = 1
	ButtonRight  Button = 2
)

// Modifiers is the modifier state sent with key events (KeyboardEvent's
// shiftKey, ctrlKey, altKey, metaKey).
type Modifiers uint8

// The modifier bits.
const (
	ModShift Modifiers = 1 << iota
	ModCtrl
	ModAlt
	ModMeta

	modAll = ModShift | ModCtrl | ModAlt | ModMeta
)

// Input is one validated remote-control event. Only the fields of its Kind
// are meaningful; the others are zero.
type Input struct {
	Kind InputKind
	// Display, X, Y: InputMove. X and Y are normalised to 0..MaxCoord.
	Display int
	X, Y    int
	// Button: InputButtonDown, InputButtonUp.
	Button Button
	// DX, DY: InputWheel, in notches; positive is right and down.
	DX, DY int
	// Code, Mods: InputKeyDown, InputKeyUp. Code is a KeyboardEvent.code.
	Code string
	Mods Modifiers
	// Text: InputPaste.
	Text string
}

// inputFrame is the wire form. Pointers tell a missing field from a zero one.
type inputFrame struct {
	V  *int    `json:"v,omitempty"`
	T  *string `json:"t,omitempty"`
	D  *int    `json:"d,omitempty"`
	X  *int    `json:"x,omitempty"`
	Y  *int    `json:"y,omitempty"`
	B  *int    `json:"b,omitempty"`
	DX *int    `json:"dx,omitempty"`
	DY *int    `json:"dy,omitempty"`
	C  *string `json:"c,omitempty"`
	M  *int    `json:"m,omitempty"`
	S  *string `json:"s,omitempty"`
}

// field names of inputFrame in a fixed order, for the per-kind checks.
var inputFields = []string{"d", "x", "y", "b", "dx", "dy", "c", "m", "s"}

// inputShape lists, per kind, the required and optional fields.
var inputShape = map[InputKind]struct{ required, optional []string }{
	InputMove:       {required: []string{"x", "y"}, optional: []string{"d"}},
	InputButtonDown: {required: []string{"b"}},
	InputButtonUp:   {required: []string{"b"}},
	InputWheel:      {required: []string{"dx", "dy"}},
	InputKeyDown:    {required: []string{"c"}, optional: []string{"m"}},
	InputKeyUp:      {required: []string{"c"}, optional: []string{"m"}},
	InputPaste:      {required: []string{"s"}},
	InputReleaseAll: {},
}

func (f *inputFrame) has(name string) bool {
	switch name {
	case "d":
		return f.D != nil
	case "x":
		return f.X != nil
	case "y":
		return f.Y != nil
	case "b":
		return f.B != nil
	case "dx":
		return f.DX != nil
	case "dy":
		return f.DY != nil
	case "c":
		return f.C != nil
	case "m":
		return f.M != nil
	case "s":
		return f.S != nil
	}
	return false
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// DecodeInput is the one decoder of input data-channel messages. It refuses
// oversized messages (ErrTooLarge), invalid UTF-8, JSON that is not one
// object of known fields (ErrMalformed), other versions (ErrVersion), and
// unknown kinds, fields of another kind, missing fields and out-of-range
// values (ErrInvalid).
func DecodeInput(data []byte) (Input, error) {
	if len(data) > MaxInputSize {
		return Input{}, fmt.Errorf("%w: input %d bytes", ErrTooLarge, len(data))
	}
	// encoding/json would silently replace invalid UTF-8 with U+FFFD.
	if !utf8.Valid(data) {
		return Input{}, fmt.Errorf("%w: input is not UTF-8", ErrMalformed)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return Input{}, fmt.Errorf("%w: input is not a JSON object", ErrMalformed)
	}
	var f inputFrame
	if err := strictUnmarshal(data, &f); err != nil {
		return Input{}, fmt.Errorf("%w: input: %v", ErrMalformed, err)
	}
	if f.V == nil || *f.V != InputVersion {
		if f.V == nil {
			return Input{}, fmt.Errorf("%w: input without v", ErrVersion)
		}
		return Input{}, fmt.Errorf("%w: input v %d", ErrVersion, *f.V)
	}
	if f.T == nil {
		return Input{}, invalid("input without t")
	}
	kind := InputKind(*f.T)
	shape, ok := inputShape[kind]
	if !ok {
		return Input{}, invalid("unknown input kind %q", truncate(*f.T, 20))
	}
	for _, name := range inputFields {
		required := slices.Contains(shape.required, name)
		if f.has(name) && !required && !slices.Contains(shape.optional, name) {
			return Input{}, invalid("input %s: field %q not allowed", kind, name)
		}
		if required && !f.has(name) {
			return Input{}, invalid("input %s: field %q missing", kind, name)
		}
	}
	in := Input{
		Kind:    kind,
		Display: deref(f.D),
		X:       deref(f.X),
		Y:       deref(f.Y),
		DX:      deref(f.DX),
		DY:      deref(f.DY),
		Code:    deref(f.C),
		Text:    deref(f.S),
	}
	// Range-check before narrowing b and m into their small types.
	b, m := deref(f.B), deref(f.M)
	if b < 0 || b > int(ButtonRight) {
		return Input{}, invalid("input %s: button %d out of range", kind, b)
	}
	if m < 0 || m > int(modAll) {
		return Input{}, invalid("input %s: modifiers %d out of range", kind, m)
	}
	in.Button, in.Mods = Button(b), Modifiers(m)
	if err := in.Validate(); err != nil {
		return Input{}, err
	}
	return in, nil
}

// EncodeInput is the sending side of DecodeInput (used by tests, the broker's
// recorder and tools; the browser page builds the same JSON by hand). It
// validates first so that a sender's bug fails where it happens.
func EncodeInput(in Input) ([]byte, error) {
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("encode input: %w", err)
	}
	v, t := InputVersion, string(in.Kind)
	f := inputFrame{V: &v, T: &t}
	switch in.Kind {
	case InputMove:
		f.X, f.Y = &in.X, &in.Y
		if in.Display != 0 {
			f.D = &in.Display
		}
	case InputButtonDown, InputButtonUp:
		b := int(in.Button)
		f.B = &b
	case InputWheel:
		f.DX, f.DY = &in.DX, &in.DY
	case InputKeyDown, InputKeyUp:
		f.C = &in.Code
		if in.Mods != 0 {
			m := int(in.Mods)
			f.M = &m
		}
	case InputPaste:
		f.S = &in.Text
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the page never embeds these in HTML; keep them short
	if err := enc.Encode(&f); err != nil {
		return nil, fmt.Errorf("encode input: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Validate reports a kind it does not know, fields set that do not belong to
// the kind, and values out of range, wrapping ErrInvalid.
func (in Input) Validate() error {
	zero := Input{Kind: in.Kind}
	var want Input // in with only the fields of its kind kept
	switch in.Kind {
	case InputMove:
		if in.Display < 0 || in.Display > MaxInputDisplay {
			return invalid("input move: display %d out of range", in.Display)
		}
		if in.X < 0 || in.X > MaxCoord || in.Y < 0 || in.Y > MaxCoord {
			return invalid("input move: (%d,%d) out of 0..%d", in.X, in.Y, MaxCoord)
		}
		want = Input{Kind: in.Kind, Display: in.Display, X: in.X, Y: in.Y}
	case InputButtonDown, InputButtonUp:
		if in.Button > ButtonRight {
			return invalid("input %s: button %d out of range", in.Kind, in.Button)
		}
		want = Input{Kind: in.Kind, Button: in.Button}
	case InputWheel:
		if in.DX < -MaxWheel || in.DX > MaxWheel || in.DY < -MaxWheel || in.DY > MaxWheel {
			return invalid("input wheel: (%d,%d) out of ±%d", in.DX, in.DY, MaxWheel)
		}
		if in.DX == 0 && in.DY == 0 {
			return invalid("input wheel: no movement")
		}
		want = Input{Kind: in.Kind, DX: in.DX, DY: in.DY}
	case InputKeyDown, InputKeyUp:
		if !IsKeyCode(in.Code) {
			return invalid("input %s: key code %q not allowed", in.Kind, truncate(in.Code, 24))
		}
		if in.Mods&^modAll != 0 {
			return invalid("input %s: modifiers %d out of range", in.Kind, in.Mods)
		}
		want = Input{Kind: in.Kind, Code: in.Code, Mods: in.Mods}
	case InputPaste:
		if err := validPaste(in.Text); err != nil {
			return err
		}
		want = Input{Kind: in.Kind, Text: in.Text}
	case InputReleaseAll:
		want = zero
	default:
		return invalid("unknown input kind %q", truncate(string(in.Kind), 20))
	}
	if in != want {
		return invalid("input %s: fields of another kind set", in.Kind)
	}
	return nil
}

func validPaste(s string) error {
	if s == "" {
		return invalid("input paste: empty")
	}
	if !utf8.ValidString(s) {
		return invalid("input paste: not UTF-8")
	}
	n := 0
	for _, r := range s {
		n++
		if n > MaxPasteRunes {
			return invalid("input paste: longer than %d runes", MaxPasteRunes)
		}
		if r == utf8.RuneError {
			// What a lone surrogate escape ("\ud800") decodes to.
			return invalid("input paste: replacement character or bad escape")
		}
		if !unicode.IsPrint(r) && r != '\n' && r != '\t' {
			return invalid("input paste: unprintable rune %U", r)
		}
	}
	return nil
}

// NormCoord maps pixel px of a video size pixels long (wide or high) to the
// normalised 0..MaxCoord coordinate carried by InputMove. Out-of-range pixels
// are clamped to the edges.
func NormCoord(px, size int) int {
	if size <= 1 || px <= 0 {
		return 0
	}
	if px >= size-1 {
		return MaxCoord
	}
	return (px*MaxCoord*2 + (size - 1)) / ((size - 1) * 2) // round(px*MaxCoord/(size-1))
}

// ScreenCoord maps a normalised coordinate back to a pixel of a screen size
// pixels long, clamped to 0..size-1. It inverts NormCoord exactly when the
// video and screen have the same size.
func ScreenCoord(n, size int) int {
	if size <= 1 || n <= 0 {
		return 0
	}
	if n >= MaxCoord {
		return size - 1
	}
	return (n*(size-1)*2 + MaxCoord) / (MaxCoord * 2) // round(n*(size-1)/MaxCoord)
}

// keyCodes is the allow-list of KeyboardEvent.code values, in the order of a
// keyboard. Codes outside it (media keys, power, IME keys) are refused.
var keyCodes = func() []string {
	var c []string
	for r := 'A'; r <= 'Z'; r++ {
		c = append(c, "Key"+string(r))
	}
	for r := '0'; r <= '9'; r++ {
		c = append(c, "Digit"+string(r))
	}
	for i := 1; i <= 24; i++ {
		c = append(c, fmt.Sprintf("F%d", i))
	}
	c = append(c,
		"Escape", "Tab", "CapsLock", "Enter", "Backspace", "Space",
		"Minus", "Equal", "BracketLeft", "BracketRight", "Backslash",
		"Semicolon", "Quote", "Backquote", "Comma", "Period", "Slash",
		"ShiftLeft", "ShiftRight", "ControlLeft", "ControlRight",
		"AltLeft", "AltRight", "MetaLeft", "MetaRight",
		"ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight",
		"Insert", "Delete", "Home", "End", "PageUp", "PageDown",
		"PrintScreen", "ScrollLock", "Pause", "NumLock",
	)
	for r := '0'; r <= '9'; r++ {
		c = append(c, "Numpad"+string(r))
	}
	return append(c, "NumpadDecimal", "NumpadAdd", "NumpadSubtract",
		"NumpadMultiply", "NumpadDivide", "NumpadEnter")
}()

var keyCodeSet = func() map[string]bool {
	m := make(map[string]bool, len(keyCodes))
	for _, c := range keyCodes {
		m[c] = true
	}
	return m
}()

// KeyCodes returns a copy of the allow-listed KeyboardEvent.code values, so
// the browser page (which drops other keys locally) and the agent's key
// table can be tested against the same list.
func KeyCodes() []string { return slices.Clone(keyCodes) }

// IsKeyCode reports whether code is on the allow-list.
func IsKeyCode(code string) bool { return keyCodeSet[code] }
