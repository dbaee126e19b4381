package capture

import (
	"image"
	"math/rand/v2"
	"testing"
)

func TestBGRXToI420(t *testing.T) {
	const w, h = 6, 4
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]byte, w*h*4)
	for i := range src {
		src[i] = byte(rng.IntN(256))
	}
	dst := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	bgrxToI420(dst, src, w*4, dst.Rect)
	px := func(x, y int) (r, g, b float64) {
		i := (y*w + x) * 4
		return float64(src[i+2]), float64(src[i+1]), float64(src[i])
	}
	for y := range h {
		for x := range w {
			want := want601(px(x, y))
			if got := int(dst.Y[dst.YOffset(x, y)]); got-want[0] > 1 || want[0]-got > 1 {
				t.Errorf("Y(%d,%d) = %d, want %d", x, y, got, want[0])
			}
		}
	}
	for y := 0; y < h; y += 2 {
		for x := 0; x < w; x += 2 {
			var r, g, b float64
			for _, d := range []image.Point{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				pr, pg, pb := px(x+d.X, y+d.Y)
				r, g, b = r+pr/4, g+pg/4, b+pb/4
			}
			want := want601(r, g, b)
			got := ycc(dst, x, y)
			if !near([3]int{0, got[1], got[2]}, [3]int{0, want[1], want[2]}, 1) {
				t.Errorf("CbCr(%d,%d) = %v, want %v", x, y, got[1:], want[1:])
			}
		}
	}

	// A sub-area leaves the rest of dst alone.
	before := append([]byte(nil), dst.Y...)
	sub := image.Rect(2, 2, 4, 4)
	bgrxToI420(dst, make([]byte, 2*2*4), 8, sub)
	for y := range h {
		for x := range w {
			i := dst.YOffset(x, y)
			inside := image.Pt(x, y).In(sub)
			if inside && dst.Y[i] != 16 || !inside && dst.Y[i] != before[i] {
				t.Errorf("after sub-area convert Y(%d,%d) = %d", x, y, dst.Y[i])
			}
		}
	}
}

func BenchmarkBGRXToI420(b *testing.B) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"1080p", 1920, 1080}, {"720p", 1280, 720}} {
		b.Run(sz.name, func(b *testing.B) {
			src := make([]byte, sz.w*sz.h*4)
			dst := image.NewYCbCr(image.Rect(0, 0, sz.w, sz.h), image.YCbCrSubsampleRatio420)
			for b.Loop() {
				bgrxToI420(dst, src, sz.w*4, dst.Rect)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
		})
	}
}

// BT.601 limited range, computed independently of the converter.
func want601(r, g, b float64) [3]int {
	y := 16 + 0.2568*r + 0.5041*g + 0.0979*b
	cb := 128 - 0.1482*r - 0.2910*g + 0.4392*b
	cr := 128 + 0.4392*r - 0.3678*g - 0.0714*b
	return [3]int{int(y + 0.5), int(cb + 0.5), int(cr + 0.5)}
}

func ycc(img *image.YCbCr, x, y int) [3]int {
	return [3]int{int(img.Y[img.YOffset(x, y)]), int(img.Cb[img.COffset(x, y)]), int(img.Cr[img.COffset(x, y)])}
}

func near(a, b [3]int, tol int) bool {
	for i := range a {
		if d := a[i] - b[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}
