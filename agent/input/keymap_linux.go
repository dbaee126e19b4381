package input

import (
	"strconv"

	"porthole/internal/wire"
)

// robotKey is how robotgo presses one key: its key name, and the X keysym
// robotgo will look up a keycode for (XKeysymToKeycode).
type robotKey struct {
	name   string
	keysym uint32
}

// robotgoKeys maps every allow-listed KeyboardEvent.code (wire.KeyCodes) to
// the key robotgo v1.1.0 presses. Codes are physical keys, so letters map to
// the unshifted key and the remote layout and modifiers decide the
// character, as on a real keyboard.
//
// Where robotgo's own name is broken on X11 the table uses a working
// equivalent: its "num+", "num-", "num*", "num/" and "num_enter" send the
// wrong keysyms (78, 74, 55, 98, 96 are 'N', 'J', '7', 'b', '`'), so the
// numpad operators type through the main keyboard's keys ("+" and "*" with
// Shift, which robotgo adds) and NumpadEnter is Enter.
//
// The keysym matters: robotgo sends keycode 0 for a keysym the keyboard map
// lacks, and Xlib's default error handler answers the BadValue by exiting
// the process. Robot therefore checks the keysym against the server's map
// first (Xvfb's default map, for one, has no F13–F24).
var robotgoKeys = func() map[string]robotKey {
	m := map[string]robotKey{
		"Escape": {"esc", 0xff1b}, "Tab": {"tab", 0xff09}, "CapsLock": {"capslock", 0xffe5},
		"Enter": {"enter", 0xff0d}, "Backspace": {"backspace", 0xff08}, "Space": {"space", 0x20},
		"ShiftLeft": {"shiftl", 0xffe1}, "ShiftRight": {"shiftr", 0xffe2},
		"ControlLeft": {"ctrll", 0xffe3}, "ControlRight": {"ctrlr", 0xffe4},
		"AltLeft": {"altl", 0xffe9}, "AltRight": {"altr", 0xffea},
		"MetaLeft": {"cmdl", 0xffeb}, "MetaRight": {"cmdr", 0xffec},
		"ArrowUp": {"up", 0xff52}, "ArrowDown": {"down", 0xff54},
		"ArrowLeft": {"left", 0xff51}, "ArrowRight": {"right", 0xff53},
		"Insert": {"insert", 0xff63}, "Delete": {"delete", 0xffff},
		"Home": {"home", 0xff50}, "End": {"end", 0xff57},
		"PageUp": {"pageup", 0xff55}, "PageDown": {"pagedown", 0xff56},
		"PrintScreen": {"printscreen", 0xff61}, "ScrollLock": {"scroll_lock", 0xff14},
		"Pause": {"pause_break", 0xff13}, "NumLock": {"num_lock", 0xff7f},
		"NumpadDecimal": {"num.", 0xffae}, "NumpadEnter": {"enter", 0xff0d},
		"NumpadAdd": {"+", '='}, "NumpadMultiply": {"*", '8'},
		"NumpadSubtract": {"-", '-'}, "NumpadDivide": {"/", '/'},
	}
	for code, ch := range map[string]byte{"Minus": '-', "Equal": '=', "BracketLeft": '[',
		"BracketRight": ']', "Backslash": '\\', "Semicolon": ';', "Quote": '\'',
		"Backquote": '`', "Comma": ',', "Period": '.', "Slash": '/'} {
		m[code] = robotKey{string(ch), uint32(ch)}
	}
	for r := 'a'; r <= 'z'; r++ {
		m["Key"+string(r-'a'+'A')] = robotKey{string(r), uint32(r)}
	}
	for i := 0; i <= 9; i++ {
		m["Digit"+strconv.Itoa(i)] = robotKey{strconv.Itoa(i), uint32('0' + i)}
		m["Numpad"+strconv.Itoa(i)] = robotKey{"num" + strconv.Itoa(i), uint32(0xffb0 + i)}
	}
	for i := 1; i <= 24; i++ {
		m["F"+strconv.Itoa(i)] = robotKey{"f" + strconv.Itoa(i), uint32(0xffbe + i - 1)}
	}
	return m
}()

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

// modifierBit says which wire.Modifiers bit a modifier key sets. AltRight is
// left out on purpose: on many layouts it is AltGraph, which browsers do not
// report as altKey, so syncing on the bit would release a held AltGr.
var modifierBit = map[string]wire.Modifiers{
	"ShiftLeft": wire.ModShift, "ShiftRight": wire.ModShift,
	"ControlLeft": wire.ModCtrl, "ControlRight": wire.ModCtrl,
	"AltLeft":  wire.ModAlt,
	"MetaLeft": wire.ModMeta, "MetaRight": wire.ModMeta,
}
