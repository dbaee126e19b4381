package consent

// In-memory dialog templates (DLGTEMPLATE), the layout of the Windows
// dialogs that are not message boxes.

import (
	"strings"
	"unicode"
)

// item is one control of a dialog template; sizes are in dialog units
// (a quarter of the average character width, an eighth of its height).
type item struct {
	class      uint16 // atomButton, atomEdit, atomStatic
	style      uint32 // besides WS_CHILD | WS_VISIBLE
	x, y, w, h int16
	id         uint16
	text       string
}

// dialogFont is the face and size (points) of every dialog; Windows falls
// back to the system's dialog font where it is missing.
const (
	dialogFontFace = "Segoe UI"
	dialogFontSize = 9
)

// dialogTemplate builds a DLGTEMPLATE: a popup dialog titled title, w×h
// dialog units, with the given extra styles and controls. The result is
// DWORD-aligned, as CreateDialogIndirectParam needs.
func dialogTemplate(title string, style, exStyle uint32, w, h int16, items []item) []uint32 {
	var b []uint16
	dword := func(v uint32) { b = append(b, uint16(v), uint16(v>>16)) }
	dword(wsPopup | wsCaption | wsSysMenu | dsModalFrame | dsSetFont | style)
	dword(exStyle)
	b = append(b, uint16(len(items)), 0, 0, uint16(w), uint16(h))
	b = append(b, 0, 0) // no menu, the standard dialog class
	b = append(b, utf16z(title)...)
	b = append(b, dialogFontSize)
	b = append(b, utf16z(dialogFontFace)...)
	for _, it := range items {
		if len(b)%2 == 1 { // each item starts on a DWORD
			b = append(b, 0)
		}
		dword(wsChild | wsVisible | it.style)
		dword(0)
		b = append(b, uint16(it.x), uint16(it.y), uint16(it.w), uint16(it.h), it.id)
		b = append(b, 0xFFFF, it.class)
		b = append(b, utf16z(it.text)...)
		b = append(b, 0) // no creation data
	}
	out := make([]uint32, (len(b)+1)/2)
	for i, v := range b {
		out[i/2] |= uint32(v) << (16 * (i % 2))
	}
	return out
}

// textLines estimates how many lines text takes in a wrapping static
// control w dialog units wide: an average character is 4 units wide, a
// fifth of each line is kept for word wrapping and wide letters, and East
// Asian wide characters count twice. Generous on purpose: a spare line is
// blank space, a missing one hides words.
func textLines(text string, w int) int {
	perLine := max(1, w/4*4/5)
	n := 0
	for para := range strings.SplitSeq(text, "\n") {
		width := 0
		for _, r := range para {
			width++
			if unicode.In(r, unicode.Han, unicode.Hangul, unicode.Hiragana, unicode.Katakana) || (r >= 0xFF00 && r <= 0xFFEF) {
				width++
			}
		}
		n += max(1, (width+perLine-1)/perLine)
	}
	return n
}
