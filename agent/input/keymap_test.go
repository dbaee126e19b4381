package input

import (
	"testing"

	"porthole/internal/wire"
)

// One table serves both OSes: every allow-listed code has an X11 key and a
// Windows scan code, and nothing else is in it.
func TestKeymapCoversAllowList(t *testing.T) {
	for _, c := range wire.KeyCodes() {
		k, ok := keys[c]
		if !ok {
			t.Errorf("allow-listed code %q has no key", c)
			continue
		}
		if k.robot == "" || k.keysym == 0 {
			t.Errorf("%s: no robotgo key (%+v)", c, k)
		}
		if k.vk == 0 || k.vk > 0xfe {
			t.Errorf("%s: virtual key %#x", c, k.vk)
		}
		if lo, hi := k.scan&0xff, k.scan>>8; lo == 0 || (hi != 0 && hi != 0xe0) {
			t.Errorf("%s: scan code %#x is not a set-1 code (0xNN or 0xE0NN)", c, k.scan)
		}
	}
	for c := range keys {
		if !wire.IsKeyCode(c) {
			t.Errorf("the key table maps %q, which is not allow-listed", c)
		}
	}
}

// Each physical key has its own scan code (Enter and NumpadEnter differ by
// the extended flag, Slash and NumpadDivide too).
func TestScanCodesUnique(t *testing.T) {
	seen := map[uint16]string{}
	for c, k := range keys {
		if other, dup := seen[k.scan]; dup {
			t.Errorf("%s and %s share scan code %#x", c, other, k.scan)
		}
		seen[k.scan] = c
	}
	// Virtual keys are unique too, but for the two Enter keys (VK_RETURN).
	vks := map[uint16]string{}
	for c, k := range keys {
		if other, dup := vks[k.vk]; dup && !(k.vk == 0x0d && (c == "Enter" || c == "NumpadEnter")) {
			t.Errorf("%s and %s share virtual key %#x", c, other, k.vk)
		}
		vks[k.vk] = c
	}
	// Spot checks against the keyboard, set 1.
	for code, want := range map[string]uint16{
		"KeyA": 0x1e, "KeyQ": 0x10, "KeyZ": 0x2c, "KeyM": 0x32, "KeyL": 0x26, "KeyP": 0x19,
		"Digit1": 0x02, "Digit0": 0x0b, "F1": 0x3b, "F10": 0x44, "F11": 0x57, "F12": 0x58, "F24": 0x76,
		"Numpad7": 0x47, "Numpad0": 0x52, "Delete": 0xe053, "ArrowLeft": 0xe04b, "MetaLeft": 0xe05b,
	} {
		if got := keys[code].scan; got != want {
			t.Errorf("%s: scan %#x, want %#x", code, got, want)
		}
	}
	for code, want := range map[string]uint16{"KeyA": 'A', "Digit0": '0', "F1": 0x70, "F24": 0x87, "Numpad0": 0x60,
		"Numpad9": 0x69, "NumpadDecimal": 0x6e, "Equal": 0xbb, "Quote": 0xde, "MetaRight": 0x5c} {
		if got := keys[code].vk; got != want {
			t.Errorf("%s: virtual key %#x, want %#x", code, got, want)
		}
	}
}
