package testpattern

import (
	"fmt"
	"image"
)

// Luma thresholds shared by DecodeStamp and readStamp in StampJS: a block is a
// 1 at or above lumaOne, a 0 at or below lumaZero, unreadable in between.
const (
	lumaOne  = 176
	lumaZero = 80
)

// sampleOffsets are the offsets, from a block's centre, of the 3x3 sample grid
// in each direction (± BlockSize/4).
var sampleOffsets = [3]int{-BlockSize / 4, 0, BlockSize / 4}

// DecodeStamp reads the frame stamp from img, where origin is the top-left
// corner of the strip in img's coordinates (StampRect().Min for a full-size
// screenshot). It returns an error wrapping ErrStampUnreadable when the strip
// is cut off, a block is neither clearly black nor clearly white, or a guard
// block is wrong (no stamp there, or the strip is misplaced).
func DecodeStamp(img image.Image, origin image.Point) (uint32, error) {
	strip := image.Rect(0, 0, StampBlocks*BlockSize, BlockSize).Add(origin)
	if !strip.In(img.Bounds()) {
		return 0, fmt.Errorf("%w: strip %v outside image %v", ErrStampUnreadable, strip, img.Bounds())
	}
	var v uint32
	for i := range StampBlocks {
		cx := origin.X + i*BlockSize + BlockSize/2
		cy := origin.Y + BlockSize/2
		sum := 0
		for _, dy := range sampleOffsets {
			for _, dx := range sampleOffsets {
				r, g, b, _ := img.At(cx+dx, cy+dy).RGBA()
				sum += luma(int(r>>8), int(g>>8), int(b>>8))
			}
		}
		l := sum / 9
		var one bool
		switch {
		case l >= lumaOne:
			one = true
		case l <= lumaZero:
			one = false
		default:
			return 0, fmt.Errorf("%w: block %d has luma %d, neither black nor white", ErrStampUnreadable, i, l)
		}
		switch i {
		case 0, StampBlocks - 1:
			if !one {
				return 0, fmt.Errorf("%w: guard block %d is not white", ErrStampUnreadable, i)
			}
		default:
			v <<= 1
			if one {
				v |= 1
			}
		}
	}
	return v, nil
}

// luma is the Rec. 601 luma of an 8-bit RGB colour, in integers so that the
// JavaScript decoder computes exactly the same value.
func luma(r, g, b int) int {
	return (299*r + 587*g + 114*b) / 1000
}
