package capture

import (
	"bytes"
	"image"
)

// diffChunk is the width in bytes of the column blocks diffRect compares
// to find where a changed row starts and ends (16 BGRX pixels).
const diffChunk = 64

// diffRect returns the bounding box of the pixels that differ between two
// BGRX images of w×h pixels, rows stride bytes apart (empty when they are
// equal). Unchanged rows cost one memcmp each, so comparing a static
// 1080p screen takes well under a millisecond.
func diffRect(prev, cur []byte, stride, w, h int) image.Rectangle {
	rowBytes := w * 4
	minX, maxX, minY, maxY := rowBytes, 0, -1, -1
	for y := range h {
		p := prev[y*stride : y*stride+rowBytes]
		c := cur[y*stride : y*stride+rowBytes]
		if bytes.Equal(p, c) {
			continue
		}
		if minY < 0 {
			minY = y
		}
		maxY = y
		// Narrow the columns only where this row can widen the box.
		if minX > 0 {
			minX = min(minX, firstDiff(p[:minX], c[:minX]))
		}
		if maxX < rowBytes {
			maxX = max(maxX, lastDiff(p[maxX:], c[maxX:])+maxX)
		}
	}
	if minY < 0 {
		return image.Rectangle{}
	}
	return image.Rect(minX/4, minY, maxX/4+1, maxY+1)
}

// firstDiff is the index of the first differing byte of a and b (equal
// lengths), or len(a) when they are equal.
func firstDiff(a, b []byte) int {
	i := 0
	for i+diffChunk <= len(a) && bytes.Equal(a[i:i+diffChunk], b[i:i+diffChunk]) {
		i += diffChunk
	}
	for i < len(a) && a[i] == b[i] {
		i++
	}
	return i
}

// lastDiff is the index of the last differing byte of a and b (equal
// lengths), or -1 when they are equal.
func lastDiff(a, b []byte) int {
	j := len(a)
	for j-diffChunk >= 0 && bytes.Equal(a[j-diffChunk:j], b[j-diffChunk:j]) {
		j -= diffChunk
	}
	for j > 0 && a[j-1] == b[j-1] {
		j--
	}
	return j - 1
}
