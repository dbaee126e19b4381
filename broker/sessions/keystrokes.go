package sessions

import (
	"strconv"

	"porthole/internal/wire"
)

// What a recording keeps of the keys a portal user typed. By default
// (recording.keystrokes = presence) the sidecar says that a key was
// pressed, with the modifiers held, and names only the keys that type no
// character — Enter, Tab, Backspace, Escape, arrows, F-keys, modifiers,
// editing and navigation keys — so the player can show what happened; a
// key that types a character is an anonymous "key": a typed password
// cannot be read back from the recording. Full keystrokes need the
// setting, whose change is audited.
//
// X11 tells the agent nothing about what has focus on the end user's
// screen, so a password field cannot be detected and skipped there; the
// broker, which records, sees only key codes.

// AnonymousKey stands for a key that types a character, in presence mode.
const AnonymousKey = "key"

// keyPresence is the sidecar event of a key event in presence mode.
func keyPresence(in wire.Input) map[string]any {
	ev := map[string]any{"t": string(in.Kind), "c": presenceCode(in.Code)}
	if in.Mods != 0 {
		ev["m"] = int(in.Mods)
	}
	return ev
}

// presenceCode names the keys that type no character and hides the rest.
func presenceCode(code string) string {
	if namedKeys[code] {
		return code
	}
	return AnonymousKey
}

var namedKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range []string{"Escape", "Tab", "CapsLock", "Enter", "Backspace", "NumpadEnter",
		"ShiftLeft", "ShiftRight", "ControlLeft", "ControlRight", "AltLeft", "AltRight", "MetaLeft", "MetaRight",
		"ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Insert", "Delete", "Home", "End", "PageUp", "PageDown",
		"PrintScreen", "ScrollLock", "Pause", "NumLock"} {
		m[c] = true
	}
	for i := 1; i <= 24; i++ {
		m["F"+strconv.Itoa(i)] = true
	}
	return m
}()
