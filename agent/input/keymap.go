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
	// vk is the key's virtual-key code on a US layout. Windows ignores it
	// when a scan code is given (the layout maps the scan code); Wine 8
	// ignores the scan code and takes only the virtual key, so both are sent.
	vk uint16
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
		"Escape": {0x01, 0x1b, "esc", 0xff1b}, "Tab": {0x0f, 0x09, "tab", 0xff09}, "CapsLock": {0x3a, 0x14, "capslock", 0xffe5},
		"Enter": {0x1c, 0x0d, "enter", 0xff0d}, "Backspace": {0x0e, 0x08, "backspace", 0xff08}, "Space": {0x39, 0x20, "space", 0x20},
		"ShiftLeft": {0x2a, 0xa0, "shiftl", 0xffe1}, "ShiftRight": {0x36, 0xa1, "shiftr", 0xffe2},
		"ControlLeft": {0x1d, 0xa2, "ctrll", 0xffe3}, "ControlRight": {0xe01d, 0xa3, "ctrlr", 0xffe4},
		"AltLeft": {0x38, 0xa4, "altl", 0xffe9}, "AltRight": {0xe038, 0xa5, "altr", 0xffea},
		"MetaLeft": {0xe05b, 0x5b, "cmdl", 0xffeb}, "MetaRight": {0xe05c, 0x5c, "cmdr", 0xffec},
		"ArrowUp": {0xe048, 0x26, "up", 0xff52}, "ArrowDown": {0xe050, 0x28, "down", 0xff54},
		"ArrowLeft": {0xe04b, 0x25, "left", 0xff51}, "ArrowRight": {0xe04d, 0x27, "right", 0xff53},
		"Insert": {0xe052, 0x2d, "insert", 0xff63}, "Delete": {0xe053, 0x2e, "delete", 0xffff},
		"Home": {0xe047, 0x24, "home", 0xff50}, "End": {0xe04f, 0x23, "end", 0xff57},
		"PageUp": {0xe049, 0x21, "pageup", 0xff55}, "PageDown": {0xe051, 0x22, "pagedown", 0xff56},
		"PrintScreen": {0xe037, 0x2c, "printscreen", 0xff61}, "ScrollLock": {0x46, 0x91, "scroll_lock", 0xff14},
		"Pause": {0x45, 0x13, "pause_break", 0xff13}, "NumLock": {0xe045, 0x90, "num_lock", 0xff7f},
		"NumpadDecimal": {0x53, 0x6e, "num.", 0xffae}, "NumpadEnter": {0xe01c, 0x0d, "enter", 0xff0d},
		"NumpadAdd": {0x4e, 0x6b, "+", '='}, "NumpadMultiply": {0x37, 0x6a, "*", '8'},
		"NumpadSubtract": {0x4a, 0x6d, "-", '-'}, "NumpadDivide": {0xe035, 0x6f, "/", '/'},

		"Minus": {0x0c, 0xbd, "-", '-'}, "Equal": {0x0d, 0xbb, "=", '='}, "BracketLeft": {0x1a, 0xdb, "[", '['},
		"BracketRight": {0x1b, 0xdd, "]", ']'}, "Backslash": {0x2b, 0xdc, "\\", '\\'}, "Semicolon": {0x27, 0xba, ";", ';'},
		"Quote": {0x28, 0xde, "'", '\''}, "Backquote": {0x29, 0xc0, "`", '`'}, "Comma": {0x33, 0xbc, ",", ','},
		"Period": {0x34, 0xbe, ".", '.'}, "Slash": {0x35, 0xbf, "/", '/'},
	}
	// Letters in QWERTY order, with their set-1 codes row by row.
	for _, row := range []struct {
		letters string
		first   uint16
	}{{"QWERTYUIOP", 0x10}, {"ASDFGHJKL", 0x1e}, {"ZXCVBNM", 0x2c}} {
		for i, r := range row.letters {
			lower := r - 'A' + 'a'
			m["Key"+string(r)] = key{row.first + uint16(i), uint16(r), string(lower), uint32(lower)}
		}
	}
	for i := 0; i <= 9; i++ {
		d := strconv.Itoa(i)
		scan := uint16(0x01 + i) // Digit1 0x02 … Digit9 0x0a
		if i == 0 {
			scan = 0x0b
		}
		m["Digit"+d] = key{scan, uint16('0' + i), d, uint32('0' + i)}
		m["Numpad"+d] = key{numpadScan[i], uint16(0x60 + i), "num" + d, uint32(0xffb0 + i)}
	}
	for i := 1; i <= 24; i++ {
		m["F"+strconv.Itoa(i)] = key{fScan[i-1], uint16(0x70 + i - 1), "f" + strconv.Itoa(i), uint32(0xffbe + i - 1)}
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
