package capture

import (
	"image"
	"testing"
)

func px(buf []byte, stride, x, y int) [3]byte {
	o := y*stride + x*4
	return [3]byte{buf[o], buf[o+1], buf[o+2]}
}

func fill(buf []byte, v byte) []byte {
	for i := range buf {
		buf[i] = v
	}
	return buf
}

func TestDrawShapes(t *testing.T) {
	const w, h = 8, 4
	stride := w * 4
	// Monochrome 2×1: pixel 0 AND=0 XOR=0 (black), pixel 1 AND=1 XOR=1
	// (inverted). Rows: AND mask row, then XOR mask row; pitch 1 byte.
	mono := &pointerShape{typ: shapeMonochrome, w: 2, h: 1, pitch: 1, data: []byte{0b0100_0000, 0b0100_0000}}
	buf := fill(make([]byte, stride*h), 0x30)
	drawShape(buf, stride, image.Rect(2, 1, 4, 2), image.Pt(2, 1), mono)
	if got := px(buf, stride, 2, 1); got != [3]byte{0, 0, 0} {
		t.Errorf("mono AND 0 XOR 0 = %v, want black", got)
	}
	if got := px(buf, stride, 3, 1); got != [3]byte{0xcf, 0xcf, 0xcf} {
		t.Errorf("mono AND 1 XOR 1 = %v, want inverted", got)
	}
	if got := px(buf, stride, 4, 1); got != [3]byte{0x30, 0x30, 0x30} {
		t.Errorf("outside the shape = %v, untouched", got)
	}
	// Colour 2×1: opaque red, half-transparent white.
	col := &pointerShape{typ: shapeColor, w: 2, h: 1, pitch: 8, data: []byte{0, 0, 255, 255, 255, 255, 255, 128}}
	buf = fill(make([]byte, stride*h), 0)
	drawShape(buf, stride, image.Rect(0, 0, 2, 1), image.Pt(0, 0), col)
	if got := px(buf, stride, 0, 0); got != [3]byte{0, 0, 255} {
		t.Errorf("opaque = %v", got)
	}
	if got := px(buf, stride, 1, 0); got != [3]byte{128, 128, 128} {
		t.Errorf("half alpha over black = %v", got)
	}
	// Masked colour: alpha 0 replaces, 0xFF XORs.
	masked := &pointerShape{typ: shapeMaskedColor, w: 2, h: 1, pitch: 8, data: []byte{1, 2, 3, 0, 0xff, 0xff, 0xff, 0xff}}
	buf = fill(make([]byte, stride*h), 0x0f)
	drawShape(buf, stride, image.Rect(0, 0, 2, 1), image.Pt(0, 0), masked)
	if got := px(buf, stride, 0, 0); got != [3]byte{1, 2, 3} {
		t.Errorf("masked replace = %v", got)
	}
	if got := px(buf, stride, 1, 0); got != [3]byte{0xf0, 0xf0, 0xf0} {
		t.Errorf("masked xor = %v", got)
	}
}

// The overlay restores the desktop where the cursor was, draws it where
// it is, clips it at the edge, and reports both places as changed.
func TestOverlayCompose(t *testing.T) {
	const w, h = 16, 8
	stride := w * 4
	bounds := image.Rect(0, 0, w, h)
	desk := fill(make([]byte, stride*h), 0x40)
	out := make([]byte, stride*h)
	sq := &pointerShape{typ: shapeColor, w: 2, h: 2, pitch: 8, data: fill(make([]byte, 16), 0xff)}
	o := &overlay{shape: sq, visible: true, pos: image.Pt(3, 3)}

	if got := o.compose(desk, out, stride, bounds, bounds); got != bounds {
		t.Fatalf("first compose changed %v, want all", got)
	}
	if px(out, stride, 3, 3) != [3]byte{0xff, 0xff, 0xff} || px(out, stride, 5, 3) != [3]byte{0x40, 0x40, 0x40} {
		t.Fatal("cursor not drawn at 3,3 only")
	}
	if px(desk, stride, 3, 3) != [3]byte{0x40, 0x40, 0x40} {
		t.Fatal("the cursor was drawn on the desktop copy")
	}
	// Move: the old place is restored, the new one drawn.
	o.pos = image.Pt(15, 7) // clipped to one pixel
	if got, want := o.compose(desk, out, stride, bounds, image.Rectangle{}), image.Rect(3, 3, 16, 8); got != want {
		t.Fatalf("move changed %v, want %v", got, want)
	}
	if px(out, stride, 3, 3) != [3]byte{0x40, 0x40, 0x40} || px(out, stride, 15, 7) != [3]byte{0xff, 0xff, 0xff} {
		t.Fatal("old cursor not erased or new one not drawn")
	}
	// Hidden: erased; a desktop change under nothing else reports only it.
	o.visible = false
	if got := o.compose(desk, out, stride, bounds, image.Rectangle{}); got != image.Rect(15, 7, 16, 8) {
		t.Fatalf("hide changed %v", got)
	}
	desk[0] = 0x99
	if got := o.compose(desk, out, stride, bounds, image.Rect(0, 0, 1, 1)); got != image.Rect(0, 0, 1, 1) || out[0] != 0x99 {
		t.Fatalf("desktop change: %v, out[0]=%#x", got, out[0])
	}
}
