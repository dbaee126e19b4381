// Package testpattern paints a known, moving picture on an X display so that
// end-to-end tests and benchmarks can check, in the browser, what came out of
// the whole media pipeline (capture → VP8 → relay → decode → canvas).
//
// The picture has one documented layout (all coordinates in X screen pixels,
// origin top-left):
//
//   - Background: dark grey #202020.
//   - Frame stamp: a strip of StampBlocks (34) square blocks of BlockSize (24)
//     pixels at StampX, StampY = (16, 16), i.e. StampRect() = (16,16)-(832,40).
//     Block 0 is a white guard, blocks 1..32 are the 32 bits of the stamp, most
//     significant bit first (1 = white #FFFFFF, 0 = black #000000), block 33 is
//     a white guard too: white guards differ from the dark background, so a
//     strip read one block off (or not there) fails a guard instead of
//     misreading. The stamp is the wall-clock time in Unix milliseconds modulo
//     2^32 (StampOf), read just before the frame is drawn; the painter
//     then waits for the X server to process the drawing (a round trip), so
//     "now − stamp" (Age, or stampAgeMs in StampJS) is glass-to-glass latency
//     plus the sub-millisecond draw. The value wraps every 49.7 days; Age and
//     stampAgeMs subtract modulo 2^32, so a wrap between paint and read is harmless.
//   - Colour patches (Patches): four 160x160 squares in a row at y = 64
//     (sample each Patch.Center):
//     red #FF0000 at x = 16, green #00FF00 at x = 208, blue #0000FF at x = 400,
//     white #FFFFFF at x = 592.
//   - Motion band (MotionRect): everything from y = MotionTop (240) down, full
//     width. In ModeSmall an amber #FFC000 box of BoxSize (128) pixels at
//     y = 272 slides right by Step (8) pixels per frame and wraps; only the
//     strips it uncovers and covers are repainted, so damage is a small moving
//     region. In ModeFull the whole band is vertical stripes StripeWidth (32)
//     wide in eight colours that scroll right by one stripe per frame, so every
//     pixel of the band changes every frame (a full-screen scroll).
//
// Decoders: DecodeStamp (Go, on an image.Image) and readStamp in StampJS (on a
// canvas ImageData, at any display scale) implement the same reading: the mean
// Rec. 601 luma of a 3x3 grid of samples at each block centre ± BlockSize/4 is
// a 1 when ≥ 176, a 0 when ≤ 80, and unreadable in between; block 0 must read
// 1 and block 33 must read 1.
package testpattern

import (
	"image"
	"image/color"
	"time"
)

// Geometry of the frame stamp strip, in screen pixels.
const (
	// BlockSize is the side of one stamp block; 24 px survives VP8 at low
	// bitrates and a 2x downscale in the browser.
	BlockSize = 24
	// Bits is the number of data blocks in the stamp.
	Bits = 32
	// StampBlocks is the number of blocks in the strip: a white guard, Bits
	// data blocks and another white guard.
	StampBlocks = Bits + 2
	// StampX and StampY are the top-left corner of the strip.
	StampX, StampY = 16, 16
)

// Geometry of the rest of the layout, in screen pixels.
const (
	// PatchSize is the side of each colour patch.
	PatchSize = 160
	// PatchY is the top of the row of patches.
	PatchY = 64
	// MotionTop is the first row of the motion band.
	MotionTop = 240
	// BoxSize is the side of the box that moves in ModeSmall.
	BoxSize = 128
	// BoxY is the top of the moving box.
	BoxY = 272
	// Step is how far the box moves per frame in ModeSmall.
	Step = 8
	// StripeWidth is the width of one stripe in ModeFull; the stripes scroll by
	// one StripeWidth per frame.
	StripeWidth = 32
	// MinWidth and MinHeight are the smallest screen the layout fits on.
	MinWidth, MinHeight = StampX + StampBlocks*BlockSize, BoxY + BoxSize + 16
)

// Colours of the layout.
var (
	// Background is the dark grey behind everything.
	Background = color.RGBA{0x20, 0x20, 0x20, 0xff}
	// BoxColor is the amber of the moving box in ModeSmall.
	BoxColor = color.RGBA{0xff, 0xc0, 0x00, 0xff}
)

// stampOne and stampZero are the block colours for a 1 and a 0 bit.
var (
	stampOne  = color.RGBA{0xff, 0xff, 0xff, 0xff}
	stampZero = color.RGBA{0x00, 0x00, 0x00, 0xff}
)

// stripeColors are the eight colours of the ModeFull stripes, chosen to differ
// from their neighbours so that a scroll changes every pixel.
var stripeColors = [8]color.RGBA{
	{0x60, 0x30, 0x30, 0xff}, {0x30, 0x60, 0x30, 0xff}, {0x30, 0x30, 0x60, 0xff}, {0x80, 0x80, 0x30, 0xff},
	{0x30, 0x80, 0x80, 0xff}, {0x80, 0x30, 0x80, 0xff}, {0xa0, 0xa0, 0xa0, 0xff}, {0x50, 0x50, 0x50, 0xff},
}

// Patch is one fixed colour square that tests sample after the pipeline.
type Patch struct {
	// Name is the colour's name ("red", "green", "blue", "white").
	Name string
	// Rect is the square, in screen pixels.
	Rect image.Rectangle
	// Color is the exact colour painted.
	Color color.RGBA
}

// Center is the pixel to sample: the farthest from the edges, where VP8's
// chroma subsampling and blocking do not reach.
func (p Patch) Center() image.Point {
	return image.Pt((p.Rect.Min.X+p.Rect.Max.X)/2, (p.Rect.Min.Y+p.Rect.Max.Y)/2)
}

// Patches returns the colour patches for a screen of the given size. The
// positions do not depend on the size (the layout is anchored top-left); patches
// that would not fit entirely are left out, so a screen of at least MinWidth x
// MinHeight has all four.
func Patches(width, height int) []Patch {
	all := []Patch{
		{"red", image.Rect(16, PatchY, 16+PatchSize, PatchY+PatchSize), color.RGBA{0xff, 0, 0, 0xff}},
		{"green", image.Rect(208, PatchY, 208+PatchSize, PatchY+PatchSize), color.RGBA{0, 0xff, 0, 0xff}},
		{"blue", image.Rect(400, PatchY, 400+PatchSize, PatchY+PatchSize), color.RGBA{0, 0, 0xff, 0xff}},
		{"white", image.Rect(592, PatchY, 592+PatchSize, PatchY+PatchSize), color.RGBA{0xff, 0xff, 0xff, 0xff}},
	}
	screen := image.Rect(0, 0, width, height)
	out := all[:0]
	for _, p := range all {
		if p.Rect.In(screen) {
			out = append(out, p)
		}
	}
	return out
}

// StampRect returns the stamp strip, in screen pixels: (16,16)-(832,40).
func StampRect() image.Rectangle {
	return image.Rect(StampX, StampY, StampX+StampBlocks*BlockSize, StampY+BlockSize)
}

// MotionRect returns the band where the moving element lives on a screen of
// the given size: full width, from MotionTop to the bottom.
func MotionRect(width, height int) image.Rectangle {
	return image.Rect(0, MotionTop, width, height)
}

// BoxRect returns where the ModeSmall box is painted in frame n (counted from
// 0) on a screen of the given width.
func BoxRect(width int, n uint64) image.Rectangle {
	span := uint64(width - BoxSize)
	x := int((n * Step) % span)
	return image.Rect(x, BoxY, x+BoxSize, BoxY+BoxSize)
}

// StampOf is the stamp painted for wall-clock time t: Unix milliseconds modulo 2^32.
func StampOf(t time.Time) uint32 {
	return uint32(t.UnixMilli())
}

// Age returns how long before now the frame carrying stamp was painted,
// computed modulo 2^32 ms so that a wrap in between is harmless. A frame from
// the future (clock skew) gives a negative age.
func Age(stamp uint32, now time.Time) time.Duration {
	return time.Duration(int32(StampOf(now)-stamp)) * time.Millisecond
}

// fill is one batch of rectangles painted in one colour (one X request).
type fill struct {
	color color.RGBA
	rects []image.Rectangle
}

// blockRect is stamp block i (0 = leading guard).
func blockRect(i int) image.Rectangle {
	x := StampX + i*BlockSize
	return image.Rect(x, StampY, x+BlockSize, StampY+BlockSize)
}

// bitOf reports data bit i (0 = most significant) of v.
func bitOf(v uint32, i int) bool {
	return v&(1<<(Bits-1-i)) != 0
}

// stampFills returns the fills that turn a strip showing prev into one showing
// next; with all set it paints the whole strip, guards included.
func stampFills(prev, next uint32, all bool) []fill {
	ones := fill{color: stampOne}
	zeros := fill{color: stampZero}
	if all {
		ones.rects = append(ones.rects, blockRect(0), blockRect(StampBlocks-1))
	}
	for i := range Bits {
		b := bitOf(next, i)
		if !all && b == bitOf(prev, i) {
			continue
		}
		if b {
			ones.rects = append(ones.rects, blockRect(i+1))
		} else {
			zeros.rects = append(zeros.rects, blockRect(i+1))
		}
	}
	return []fill{ones, zeros}
}

// staticFills paints everything that does not change: background and patches.
func staticFills(width, height int) []fill {
	out := []fill{{color: Background, rects: []image.Rectangle{image.Rect(0, 0, width, height)}}}
	for _, p := range Patches(width, height) {
		out = append(out, fill{color: p.Color, rects: []image.Rectangle{p.Rect}})
	}
	return out
}

// boxFills moves the ModeSmall box from frame n-1 to frame n, repainting only
// what changes: the strip it uncovers in Background and the strip it newly
// covers in BoxColor. With all set (first frame, expose) it paints the box whole.
func boxFills(width int, n uint64, all bool) []fill {
	next := BoxRect(width, n)
	if all || n == 0 {
		return []fill{{color: BoxColor, rects: []image.Rectangle{next}}}
	}
	prev := BoxRect(width, n-1)
	return []fill{
		{color: Background, rects: subtract(prev, next)},
		{color: BoxColor, rects: subtract(next, prev)},
	}
}

// subtract returns a minus b for two rectangles of the same height and rows,
// as at most two rectangles.
func subtract(a, b image.Rectangle) []image.Rectangle {
	in := a.Intersect(b)
	if in.Empty() {
		return []image.Rectangle{a}
	}
	var out []image.Rectangle
	if a.Min.X < in.Min.X {
		out = append(out, image.Rect(a.Min.X, a.Min.Y, in.Min.X, a.Max.Y))
	}
	if in.Max.X < a.Max.X {
		out = append(out, image.Rect(in.Max.X, a.Min.Y, a.Max.X, a.Max.Y))
	}
	return out
}

// stripeFills paints the whole ModeFull band for frame n, one fill per colour.
// Stripe k (from the left) has colour (k - n) mod 8, so the pattern moves
// right by one stripe per frame.
func stripeFills(width, height int, n uint64) []fill {
	out := make([]fill, len(stripeColors))
	for i := range out {
		out[i].color = stripeColors[i]
	}
	band := MotionRect(width, height)
	for k := 0; k*StripeWidth < width; k++ {
		r := image.Rect(k*StripeWidth, band.Min.Y, (k+1)*StripeWidth, band.Max.Y).Intersect(band)
		c := (uint64(k) + 8 - n%8) % 8
		out[c].rects = append(out[c].rects, r)
	}
	return out
}
