package capture

import (
	"image"
	"math/rand/v2"
	"testing"
)

// frame is a synthetic w×h BGRX screen with a given row stride.
func frame(w, h, stride int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, stride*h)
	for y := range h {
		for x := range w * 4 {
			b[y*stride+x] = byte(rng.IntN(256))
		}
	}
	return b
}

func TestDiffRect(t *testing.T) {
	const w, h = 300, 200
	for _, stride := range []int{w * 4, w*4 + 32} {
		prev := frame(w, h, stride, 1)
		tests := []struct {
			name    string
			changes []image.Point // pixels that change
			want    image.Rectangle
		}{
			{"nothing", nil, image.Rectangle{}},
			{"one pixel", []image.Point{{17, 33}}, image.Rect(17, 33, 18, 34)},
			{"corners", []image.Point{{0, 0}, {w - 1, h - 1}}, image.Rect(0, 0, w, h)},
			{"two apart", []image.Point{{250, 10}, {3, 150}}, image.Rect(3, 10, 251, 151)},
			{"last column", []image.Point{{w - 1, 100}}, image.Rect(w-1, 100, w, 101)},
			{"within one chunk", []image.Point{{16, 5}, {31, 5}}, image.Rect(16, 5, 32, 6)},
		}
		for _, tc := range tests {
			cur := append([]byte(nil), prev...)
			for _, p := range tc.changes {
				cur[p.Y*stride+p.X*4+1] ^= 0x40 // green only: one byte of the pixel
			}
			// Bytes beyond the row (stride padding) are not pixels.
			if stride > w*4 {
				cur[stride-1] ^= 0xff
			}
			if got := diffRect(prev, cur, stride, w, h); got != tc.want {
				t.Errorf("stride %d, %s: diffRect = %v, want %v", stride, tc.name, got, tc.want)
			}
		}
	}
}

// Against a brute-force reference on random edits.
func TestDiffRectRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const w, h = 97, 61
	prev := frame(w, h, w*4, 9)
	for range 300 {
		cur := append([]byte(nil), prev...)
		want := image.Rectangle{}
		for range rng.IntN(4) {
			x, y := rng.IntN(w), rng.IntN(h)
			cur[(y*w+x)*4+rng.IntN(4)] ^= byte(1 + rng.IntN(255))
			want = want.Union(image.Rect(x, y, x+1, y+1))
		}
		if got := diffRect(prev, cur, w*4, w, h); got != want {
			t.Fatalf("diffRect = %v, want %v", got, want)
		}
	}
}

func BenchmarkDiffRectStatic1080p(b *testing.B) {
	const w, h = 1920, 1080
	prev := frame(w, h, w*4, 1)
	cur := append([]byte(nil), prev...)
	b.SetBytes(int64(len(cur)))
	for b.Loop() {
		if !diffRect(prev, cur, w*4, w, h).Empty() {
			b.Fatal("change found")
		}
	}
}
