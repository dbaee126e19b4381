//go:build cgo

package encode

import (
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"porthole/agent/capture/capturetest"
	"porthole/agent/encode/internal/vpxdec"
)

func newVP8T(t testing.TB, c Config) *VP8 {
	t.Helper()
	e, err := NewVP8(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func newDecT(t testing.TB) *vpxdec.Decoder {
	t.Helper()
	d, err := vpxdec.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// psnrY compares the luma of the top-left w×h of a and b.
func psnrY(a, b *image.YCbCr, w, h int) float64 {
	var se float64
	for y := range h {
		for x := range w {
			d := float64(a.Y[a.YOffset(x, y)]) - float64(b.Y[b.YOffset(x, y)])
			se += d * d
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(w*h)))
}

func TestVP8RoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name         string
		w, h         int
		wantW, wantH int
	}{
		{"qvga", 320, 240, 320, 240},
		{"odd", 321, 179, 320, 178},
		{"tiny", 64, 48, 64, 48},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newVP8T(t, Config{Width: tc.w, Height: tc.h, BitrateKbps: 4000})
			if w, h := e.Size(); w != tc.wantW || h != tc.wantH {
				t.Fatalf("Size() = %dx%d, want %dx%d", w, h, tc.wantW, tc.wantH)
			}
			d := newDecT(t)
			src := image.NewYCbCr(image.Rect(0, 0, tc.w, tc.h), image.YCbCrSubsampleRatio420)
			for n := range 12 {
				capturetest.Draw(src, n)
				force := n == 7
				frame, key, err := e.Encode(src, time.Duration(n)*33*time.Millisecond, force)
				if err != nil {
					t.Fatal(err)
				}
				if wantKey := n == 0 || force; key != wantKey {
					t.Errorf("frame %d: keyframe=%v, want %v", n, key, wantKey)
				}
				// VP8 frame tag: bit 0 of the first byte is 0 for keyframes.
				if len(frame) < 3 || (frame[0]&1 == 0) != key {
					t.Fatalf("frame %d: bad VP8 tag % x (key=%v)", n, frame[:min(3, len(frame))], key)
				}
				got, err := d.Decode(frame)
				if err != nil {
					t.Fatalf("frame %d: %v", n, err)
				}
				if got.Rect != image.Rect(0, 0, tc.wantW, tc.wantH) {
					t.Fatalf("decoded %v", got.Rect)
				}
				if p := psnrY(src, got, tc.wantW, tc.wantH); p < 30 {
					t.Errorf("frame %d: luma PSNR %.1f dB, want >= 30", n, p)
				}
				if key && n > 0 {
					// A real keyframe decodes without any history.
					if _, err := newDecT(t).Decode(frame); err != nil {
						t.Errorf("forced keyframe %d in a fresh decoder: %v", n, err)
					}
				}
			}
		})
	}
}

// A delta frame needs its predecessors: a fresh decoder must refuse it
// (this is what makes the keyframe checks above meaningful).
func TestVP8DeltaNeedsHistory(t *testing.T) {
	e := newVP8T(t, Config{Width: 64, Height: 48})
	src := image.NewYCbCr(image.Rect(0, 0, 64, 48), image.YCbCrSubsampleRatio420)
	capturetest.Draw(src, 0)
	if _, _, err := e.Encode(src, 0, false); err != nil {
		t.Fatal(err)
	}
	capturetest.Draw(src, 1)
	frame, key, err := e.Encode(src, 33*time.Millisecond, false)
	if err != nil || key {
		t.Fatalf("second frame: key=%v err=%v", key, err)
	}
	if _, err := newDecT(t).Decode(frame); err == nil {
		t.Error("fresh decoder accepted a delta frame")
	}
}

func TestVP8Config(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		ok   bool
	}{
		{"defaults", Config{Width: 64, Height: 64}, true},
		{"fastest", Config{Width: 64, Height: 64, CPUUsed: -16, Threads: 1, FPS: 60, StaticThreshold: -1}, true},
		{"too small", Config{Width: 1, Height: 64}, false},
		{"too big", Config{Width: 20000, Height: 64}, false},
		{"cpu", Config{Width: 64, Height: 64, CPUUsed: -17}, false},
		{"fps", Config{Width: 64, Height: 64, FPS: -1}, false},
		{"bitrate", Config{Width: 64, Height: 64, BitrateKbps: 1}, false},
		{"threads", Config{Width: 64, Height: 64, Threads: 100}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewVP8(tc.c)
			if tc.ok != (err == nil) {
				t.Fatalf("NewVP8(%+v) = %v, want ok=%v", tc.c, err, tc.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrConfig) {
					t.Errorf("error %v is not ErrConfig", err)
				}
				return
			}
			e.Close()
		})
	}
}

func TestVP8BadInputAndClose(t *testing.T) {
	e := newVP8T(t, Config{Width: 64, Height: 64})
	for _, img := range []*image.YCbCr{
		image.NewYCbCr(image.Rect(0, 0, 32, 64), image.YCbCrSubsampleRatio420),
		image.NewYCbCr(image.Rect(0, 0, 64, 64), image.YCbCrSubsampleRatio444),
	} {
		if _, _, err := e.Encode(img, 0, false); !errors.Is(err, ErrFrameSize) {
			t.Errorf("Encode(%v %v) = %v, want ErrFrameSize", img.Rect, img.SubsampleRatio, err)
		}
	}
	if err := e.SetBitrate(5); !errors.Is(err, ErrConfig) {
		t.Errorf("SetBitrate(5) = %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	img := image.NewYCbCr(image.Rect(0, 0, 64, 64), image.YCbCrSubsampleRatio420)
	if _, _, err := e.Encode(img, 0, false); !errors.Is(err, ErrClosed) {
		t.Errorf("Encode after Close = %v", err)
	}
	if err := e.SetBitrate(500); !errors.Is(err, ErrClosed) {
		t.Errorf("SetBitrate after Close = %v", err)
	}
}

// The bitrate target steers frame sizes: the same grainy input costs much
// more at 8 Mbit/s than after SetBitrate(200).
func TestVP8SetBitrate(t *testing.T) {
	const w, h = 320, 240
	bytesAt := func(kbps int) int {
		e := newVP8T(t, Config{Width: w, Height: h, BitrateKbps: 8000})
		if kbps != 8000 {
			if err := e.SetBitrate(kbps); err != nil {
				t.Fatal(err)
			}
		}
		rng := rand.New(rand.NewPCG(3, 4))
		img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		total := 0
		for n := range 30 {
			capturetest.Draw(img, n)
			for i := range img.Y {
				img.Y[i] += byte(rng.IntN(16))
			}
			frame, _, err := e.Encode(img, time.Duration(n)*33*time.Millisecond, false)
			if err != nil {
				t.Fatal(err)
			}
			if n >= 10 {
				total += len(frame)
			}
		}
		return total
	}
	hi, lo := bytesAt(8000), bytesAt(200)
	t.Logf("bytes: %d at 8000 kbps, %d at 200 kbps", hi, lo)
	if hi < 3*lo {
		t.Errorf("bytes at 8000 kbps %d, at 200 kbps %d: want a clear difference", hi, lo)
	}
}

func BenchmarkVP8(b *testing.B) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"1080p", 1920, 1080}, {"720p", 1280, 720}} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", sz.name, threads), func(b *testing.B) {
				e := newVP8T(b, Config{Width: sz.w, Height: sz.h, BitrateKbps: 2500, Threads: threads})
				frames := make([]*image.YCbCr, 8)
				for i := range frames {
					frames[i] = image.NewYCbCr(image.Rect(0, 0, sz.w, sz.h), image.YCbCrSubsampleRatio420)
					capturetest.Draw(frames[i], i)
				}
				// The first (key)frame pays start-up costs; keep it out.
				if _, _, err := e.Encode(frames[0], 0, false); err != nil {
					b.Fatal(err)
				}
				n := 1
				for b.Loop() {
					if _, _, err := e.Encode(frames[n%len(frames)], time.Duration(n)*33*time.Millisecond, false); err != nil {
						b.Fatal(err)
					}
					n++
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
			})
		}
	}
}
