package input

import (
	"strconv"

	"porthole/internal/wire"
)

// key is how each OS presses one physical key of the allow-list.
type key struct {
	// scan is the PC scan code (set 1) that Windows' SendInput takes with
	// KEYEVENTF_SCANCODE; 0xE0xx marks an extended key (KEYEVENTF_EXTENDEDKEY).
	// These are the "win" column of Chromium's DOM code table
	// (ui/events/keycodes/dom/dom_code_data.inc), where KeyboardEvent.code
	// comes from: Pause is 0x45 and NumLock 0xE045, as Windows maps them.
	scan uint16
	// robot is the key name robotgo v1.1.0 presses on X11, and keysym the X
	// keysym it will look up a keycode for (XKeysymToKeycode).
	robot  string
	keysym uint32
}

// keys maps every allow-listed KeyboardEvent.code (wire.KeyCodes) to the
// key each OS presses: one table, so Linux and Windows cannot drift apart.
// Codes are physical keys, so letters map to the unshifted key and the
// remote layout and modifiers decide the character, as on a real keyboard.
//
// X11 (robotgo): where robotgo's own name is broken the table uses a
// working equivalent: its "num+", "num-", "num*", "num/" and "num_enter"
// send the wrong keysyms (78, 74, 55, 98, 96 are 'N', 'J', '7', 'b', '`'),
// so the numpad operators type through the main keyboard's keys ("+" and
// "*" with Shift, which robotgo adds) and NumpadEnter is Enter. The keysym
// matters: robotgo sends keycode 0 for a keysym the keyboard map lacks, and
// Xlib's default error handler answers the BadValue by exiting the process.
// Robot therefore checks the keysym against the server's map first (Xvfb's
// default map, for one, has no F13–F24).
var keys = func() map[string]key {
	m := map[string]key{
		"Escape": {0x01, "esc", 0xff1b}, "Tab": {0x0f, "tab", 0xff09}, "CapsLock": {0x3a, "capslock", 0xffe5},
		"Enter": {0x1c, "enter", 0xff0d}, "Backspace": {0x0e, "backspace", 0xff08}, "Space": {0x39, "space", 0x20},
		"ShiftLeft": {0x2a, "shiftl", 0xffe1}, "ShiftRight": {0x36, "shiftr", 0xffe2},
		"ControlLeft": {0x1d, "ctrll", 0xffe3}, "ControlRight": {0xe01d, "ctrlr", 0xffe4},
		"AltLeft": {0x38, "altl", 0xffe9}, "AltRight": {0xe038, "altr", 0xffea},
		"MetaLeft": {0xe05b, "cmdl", 0xffeb}, "MetaRight": {0xe05c, "cmdr", 0xffec},
		"ArrowUp": {0xe048, "up", 0xff52}, "ArrowDown": {0xe050, "down", 0xff54},
		"ArrowLeft": {0xe04b, "left", 0xff51}, "ArrowRight": {0xe04d, "right", 0xff53},
		"Insert": {0xe052, "insert", 0xff63}, "Delete": {0xe053, "delete", 0xffff},
		"Home": {0xe047, "home", 0xff50}, "End": {0xe04f, "end", 0xff57},
		"PageUp": {0xe049, "pageup", 0xff55}, "PageDown": {0xe051, "pagedown", 0xff56},
		"PrintScreen": {0xe037, "printscreen", 0xff61}, "ScrollLock": {0x46, "scroll_lock", 0xff14},
		"Pause": {0x45, "pause_break", 0xff13}, "NumLock": {0xe045, "num_lock", 0xff7f},
		"NumpadDecimal": {0x53, "num.", 0xffae}, "NumpadEnter": {0xe01c, "enter", 0xff0d},
		"NumpadAdd": {0x4e, "+", '='}, "NumpadMultiply": {0x37, "*", '8'},
		"NumpadSubtract": {0x4a, "-", '-'}, "NumpadDivide": {0xe035, "/", '/'},

		"Minus": {0x0c, "-", '-'}, "Equal": {0x0d, "=", '='}, "BracketLeft": {0x1a, "[", '['},
		"BracketRight": {0x1b, "]", ']'}, "Backslash": {0x2b, "\\", '\\'}, "Semicolon": {0x27, ";", ';'},
		"Quote": {0x28, "'", '\''}, "Backquote": {0x29, "`", '`'}, "Comma": {0x33, ",", ','},
		"Period": {0x34, ".", '.'}, "Slash": {0x35, "/", '/'},
	}
	// Letters in QWERTY order, with their set-1 codes row by row.
	for _, row := range []struct {
		letters string
		first   uint16
	}{{"QWERTYUIOP", 0x10}, {"ASDFGHJKL", 0x1e}, {"ZXCVBNM", 0x2c}} {
		for i, r := range row.letters {
			lower := r - 'A' + 'a'
			m["Key"+string(r)] = key{row.first + uint16(i), string(lower), uint32(lower)}
		}
	}
	for i := 0; i <= 9; i++ {
		d := strconv.Itoa(i)
		scan := uint16(0x01 + i) // Digit1 0x02 … Digit9 0x0a
		if i == 0 {
			scan = 0x0b
		}
		m["Digit"+d] = key{scan, d, uint32('0' + i)}
		m["Numpad"+d] = key{numpadScan[i], "num" + d, uint32(0xffb0 + i)}
	}
	for i := 1; i <= 24; i++ {
		m["F"+strconv.Itoa(i)] = key{fScan[i-1], "f" + strconv.Itoa(i), uint32(0xffbe + i - 1)}
	}
	return m
}()

// numpadScan are the set-1 codes of Numpad0…Numpad9.
var numpadScan = [10]uint16{0x52, 0x4f, 0x50, 0x51, 0x4b, 0x4c, 0x4d, 0x47, 0x48, 0x49}

// fScan are the set-1 codes of F1…F24.
var fScan = [24]uint16{0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x57, 0x58,
	0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x76}

// modifierBit says which wire.Modifiers bit a modifier key sets. AltRight is
// left out on purpose: on many layouts it is AltGraph, which browsers do not
// report as altKey, so syncing on the bit would release a held AltGr.
var modifierBit = map[string]wire.Modifiers{
	"ShiftLeft": wire.ModShift, "ShiftRight": wire.ModShift,
	"ControlLeft": wire.ModCtrl, "ControlRight": wire.ModCtrl,
	"AltLeft":  wire.ModAlt,
	"MetaLeft": wire.ModMeta, "MetaRight": wire.ModMeta,
}
