package testpattern

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// newBrowser starts a headless Chromium on a blank page for the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](StampJS+"; window.readStamp = readStamp; window.stampAgeMs = stampAgeMs; null")); err != nil {
		t.Fatalf("load StampJS: %v", err)
	}
	return ctx
}

// jsResult is what the page reports for one readStamp call.
type jsResult struct {
	Stamp *float64 `json:"stamp"`
	Error string   `json:"error"`
}

// dataURL encodes img as a PNG data URL (fastest compression: -race makes
// the default slow).
func dataURL(t *testing.T, img image.Image) string {
	t.Helper()
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// readStampJS draws the image src (of size b) on a canvas of w x h (scaling
// it as a <video> would be shown), reads rows [0, readRows) of it (all when
// 0) and runs readStamp.
func readStampJS(t *testing.T, ctx context.Context, src string, b image.Rectangle, w, h, readRows int) jsResult {
	t.Helper()
	script := fmt.Sprintf(`(async () => {
		const img = new Image();
		img.src = %q;
		await img.decode();
		const c = document.createElement('canvas');
		c.width = %d; c.height = %d;
		const g = c.getContext('2d', {willReadFrequently: true});
		g.drawImage(img, 0, 0, c.width, c.height);
		const rows = %d || c.height;
		const data = g.getImageData(0, 0, c.width, rows);
		try {
			return {stamp: readStamp(data, %d, %d, c.width, c.height)};
		} catch (e) {
			return {error: String(e.message)};
		}
	})()`, src, w, h, readRows, b.Dx(), b.Dy())
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	var res jsResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	return res
}

// TestStampJSMatchesGo runs readStamp in headless Chromium on a real capture
// of the painted display and on synthetic frames, at 1:1 and scaled as a
// <video> element shown smaller or larger, and checks it agrees with DecodeStamp.
func TestStampJSMatchesGo(t *testing.T) {
	g, _ := startPattern(t, Options{Rate: 30})
	capture := g.grab(t)
	want, err := DecodeStamp(capture, StampRect().Min)
	if err != nil {
		t.Fatalf("Go decoder on the capture: %v", err)
	}
	ctx := newBrowser(t)

	captureURL := dataURL(t, capture)
	for _, tc := range []struct {
		name     string
		img      image.Image
		want     uint32
		w, h     int
		readRows int
	}{
		{"capture 1:1", capture, want, 1280, 720, 0},
		{"capture half size", capture, want, 640, 360, 0},
		{"capture 0.75 top rows only", capture, want, 960, 540, 40},
		{"capture 1.5x", capture, want, 1920, 1080, 0},
		{"all ones half size", frameImage(1280, 720, 0xffffffff), 0xffffffff, 640, 360, 0},
		{"all zeros", frameImage(1280, 720, 0), 0, 1280, 720, 0},
		{"alternating 1080p at 720p", frameImage(1920, 1080, 0xaaaaaaaa), 0xaaaaaaaa, 1280, 720, 0},
		{"smallest screen", frameImage(MinWidth, MinHeight, 0x80000001), 0x80000001, MinWidth, MinHeight, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := captureURL
			if tc.img != capture {
				src = dataURL(t, tc.img)
			}
			res := readStampJS(t, ctx, src, tc.img.Bounds(), tc.w, tc.h, tc.readRows)
			if res.Stamp == nil || uint32(*res.Stamp) != tc.want || *res.Stamp != float64(tc.want) {
				t.Errorf("readStamp = %+v (error %q), want %d", res.Stamp, res.Error, tc.want)
			}
		})
	}

	t.Run("unreadable", func(t *testing.T) {
		blank := image.NewRGBA(image.Rect(0, 0, 1280, 720))
		render(blank, staticFills(1280, 720))
		res := readStampJS(t, ctx, dataURL(t, blank), blank.Bounds(), 640, 360, 0)
		if res.Stamp != nil || !strings.HasPrefix(res.Error, "stamp:") {
			t.Errorf("readStamp on a frame without stamp = %+v, %q; want a stamp: error", res.Stamp, res.Error)
		}
	})

	t.Run("patches", func(t *testing.T) {
		type jsPatch struct {
			Name       string
			X, Y, W, H int
			RGB        [3]uint8
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]jsPatch]("PORTHOLE_PATCHES"))
		if err != nil {
			t.Fatal(err)
		}
		var want []jsPatch
		for _, p := range Patches(MinWidth, MinHeight) {
			want = append(want, jsPatch{p.Name, p.Rect.Min.X, p.Rect.Min.Y, p.Rect.Dx(), p.Rect.Dy(), [3]uint8{p.Color.R, p.Color.G, p.Color.B}})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("PORTHOLE_PATCHES differ from Patches (-go +js):\n%s", diff)
		}
	})

	t.Run("stampAgeMs", func(t *testing.T) {
		// The same cases as TestAge, including a wrap of the 32-bit stamp.
		now := time.UnixMilli(1 << 32).Add(30 * time.Millisecond)
		for _, tc := range []struct {
			stamp uint32
			want  int
		}{{30, 0}, {0, 30}, {0xffffffff - 19, 50}, {40, -10}} {
			got, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("stampAgeMs(%d, %d)", tc.stamp, now.UnixMilli())))
			if err != nil || got != tc.want {
				t.Errorf("stampAgeMs(%d) = %d, %v; want %d", tc.stamp, got, err, tc.want)
			}
			if goAge := Age(tc.stamp, now); goAge != time.Duration(tc.want)*time.Millisecond {
				t.Errorf("Age(%d) = %v, JS says %d ms", tc.stamp, goAge, tc.want)
			}
		}
	})
}
