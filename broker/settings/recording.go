package settings

// What session recordings keep of the keys a portal user types.
const (
	// RecordingKeystrokes is "presence" (the default: that a key was
	// pressed, its modifiers, and the names of keys that type no character)
	// or "full" (every key code, so typed text can be read back).
	RecordingKeystrokes = "recording.keystrokes"
	KeystrokesPresence  = "presence"
	KeystrokesFull      = "full"
)

func init() {
	specs[RecordingKeystrokes] = spec{KeystrokesPresence, oneOf(KeystrokesPresence, KeystrokesFull),
		"Keys in recordings: presence (a key was pressed; Enter, Tab, arrows… named; typed characters not kept) or full (every key: typed passwords can be read back)"}
	labels[RecordingKeystrokes] = "Keystrokes in recordings"
}
