package testpattern

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"testing"
	"time"
)

// render paints fills into img, as the X server would.
func render(img *image.RGBA, fills []fill) {
	for _, f := range fills {
		for _, r := range f.rects {
			draw.Draw(img, r, image.NewUniform(f.color), image.Point{}, draw.Src)
		}
	}
}

// frameImage renders a whole first frame showing stamp v.
func frameImage(w, h int, v uint32) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	render(img, staticFills(w, h))
	render(img, stampFills(0, v, true))
	render(img, boxFills(w, 0, true))
	return img
}

func TestDecodeStamp(t *testing.T) {
	for _, v := range []uint32{0, 1, 0x80000000, 0xffffffff, 0xaaaaaaaa, 0x55555555, 0xdeadbeef} {
		img := frameImage(1280, 720, v)
		got, err := DecodeStamp(img, StampRect().Min)
		if err != nil || got != v {
			t.Errorf("DecodeStamp(frame with %#x) = %#x, %v", v, got, err)
		}
	}
}

// TestStampFillsIncremental checks that repainting only the flipped bits,
// frame after frame, leaves the same strip as painting it whole.
func TestStampFillsIncremental(t *testing.T) {
	img := frameImage(1280, 720, 0)
	prev := uint32(0)
	for _, v := range []uint32{0xffffffff, 0x12345678, 0x12345679, 0x0, 0xfedcba98} {
		render(img, stampFills(prev, v, false))
		prev = v
		got, err := DecodeStamp(img, StampRect().Min)
		if err != nil || got != v {
			t.Errorf("after incremental paint of %#x: %#x, %v", v, got, err)
		}
	}
	if n := len(stampFills(0x10, 0x11, false)[0].rects) + len(stampFills(0x10, 0x11, false)[1].rects); n != 1 {
		t.Errorf("one flipped bit repaints %d blocks, want 1", n)
	}
}

func TestDecodeStampOffsetAndLossy(t *testing.T) {
	const v = 0xc0ffee42
	// The strip cropped out of a frame, at another origin.
	full := frameImage(1280, 720, v)
	crop := image.NewRGBA(image.Rect(0, 0, 900, 60))
	draw.Draw(crop, crop.Bounds(), full, image.Pt(0, 0), draw.Src)
	if got, err := DecodeStamp(crop, StampRect().Min); err != nil || got != v {
		t.Errorf("cropped: %#x, %v", got, err)
	}
	shifted := image.NewRGBA(image.Rect(0, 0, 1280, 720))
	draw.Draw(shifted, shifted.Bounds().Add(image.Pt(5, 9)), full, image.Point{}, draw.Src)
	if got, err := DecodeStamp(shifted, StampRect().Min.Add(image.Pt(5, 9))); err != nil || got != v {
		t.Errorf("shifted: %#x, %v", got, err)
	}
	// Heavy lossy compression (a stand-in for VP8 at a low bitrate).
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, full, &jpeg.Options{Quality: 10}); err != nil {
		t.Fatal(err)
	}
	lossy, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeStamp(lossy, StampRect().Min); err != nil || got != v {
		t.Errorf("jpeg q10: %#x, %v", got, err)
	}
}

func TestDecodeStampUnreadable(t *testing.T) {
	grey := func(img *image.RGBA, block int) {
		draw.Draw(img, blockRect(block), image.NewUniform(color.RGBA{0x80, 0x80, 0x80, 0xff}), image.Point{}, draw.Src)
	}
	for _, tc := range []struct {
		name   string
		img    func() image.Image
		origin image.Point
	}{
		{"background only", func() image.Image {
			img := image.NewRGBA(image.Rect(0, 0, 1280, 720))
			render(img, staticFills(1280, 720))
			return img
		}, StampRect().Min},
		{"grey data block", func() image.Image { img := frameImage(1280, 720, 7); grey(img, 5); return img }, StampRect().Min},
		{"leading guard black", func() image.Image {
			img := frameImage(1280, 720, 7)
			render(img, []fill{{stampZero, []image.Rectangle{blockRect(0)}}})
			return img
		}, StampRect().Min},
		{"trailing guard black", func() image.Image {
			img := frameImage(1280, 720, 7)
			render(img, []fill{{stampZero, []image.Rectangle{blockRect(StampBlocks - 1)}}})
			return img
		}, StampRect().Min},
		{"read one block right", func() image.Image { return frameImage(1280, 720, 0xffff0000) }, StampRect().Min.Add(image.Pt(BlockSize, 0))},
		{"read one block left", func() image.Image {
			img := image.NewRGBA(image.Rect(0, 0, 1280, 720))
			draw.Draw(img, img.Bounds().Add(image.Pt(BlockSize, 0)), frameImage(1280, 720, 0x0000ffff), image.Point{}, draw.Src)
			return img
		}, StampRect().Min},
		{"cut off", func() image.Image { return frameImage(1280, 720, 7).SubImage(image.Rect(0, 0, 500, 720)) }, StampRect().Min},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := DecodeStamp(tc.img(), tc.origin)
			if !errors.Is(err, ErrStampUnreadable) {
				t.Errorf("DecodeStamp = %#x, %v; want ErrStampUnreadable", v, err)
			}
		})
	}
}

func FuzzDecodeStamp(f *testing.F) {
	f.Add(uint32(0x12345678), []byte{0, 0, 0})
	f.Add(uint32(0), []byte{})
	f.Fuzz(func(t *testing.T, v uint32, noise []byte) {
		img := frameImage(MinWidth, MinHeight, v)
		// Noise in the top rows: DecodeStamp must never panic, and must read v
		// exactly when no noise landed on the strip.
		touched := false
		for i := 0; i+2 < len(noise); i += 3 {
			x, y := int(noise[i])*3%MinWidth, int(noise[i+1])%64
			img.Pix[img.PixOffset(x, y)] = noise[i+2]
			touched = touched || image.Pt(x, y).In(StampRect())
		}
		got, err := DecodeStamp(img, StampRect().Min)
		if !touched && (err != nil || got != v) {
			t.Fatalf("clean strip %#x read as %#x, %v", v, got, err)
		}
	})
}

func TestAge(t *testing.T) {
	now := time.UnixMilli(1 << 32).Add(30 * time.Millisecond) // just after a wrap
	for _, tc := range []struct {
		stamp uint32
		want  time.Duration
	}{
		{30, 0},
		{0, 30 * time.Millisecond},
		{0xffffffff - 19, 50 * time.Millisecond}, // painted before the wrap
		{40, -10 * time.Millisecond},             // from the future
	} {
		if got := Age(tc.stamp, now); got != tc.want {
			t.Errorf("Age(%d) = %v, want %v", tc.stamp, got, tc.want)
		}
	}
}

func TestLayoutFits(t *testing.T) {
	if n := len(Patches(MinWidth, MinHeight)); n != 4 {
		t.Errorf("%d patches on the smallest screen, want 4", n)
	}
	if n := len(Patches(640, 480)); n != 3 {
		t.Errorf("%d patches at 640x480, want 3 (white does not fit)", n)
	}
	screen := image.Rect(0, 0, MinWidth, MinHeight)
	if !StampRect().In(screen) {
		t.Errorf("stamp %v outside %v", StampRect(), screen)
	}
	for n := uint64(0); n < 500; n++ {
		if b := BoxRect(MinWidth, n); !b.In(MotionRect(MinWidth, MinHeight)) {
			t.Fatalf("frame %d: box %v outside the band", n, b)
		}
	}
	for _, p := range Patches(MinWidth, MinHeight) {
		if p.Rect.Overlaps(StampRect()) || p.Rect.Overlaps(MotionRect(MinWidth, MinHeight)) {
			t.Errorf("patch %s overlaps the stamp or the band", p.Name)
		}
	}
}
