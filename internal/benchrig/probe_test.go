package benchrig

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// pageJS paints porthole's stamp strip on a canvas of the screen's size, as
// the X painter does (internal/testpattern's layout), for tests without X.
const pageJS = `
window.paintStamp = (canvas, stamp) => {
	const S = PORTHOLE_STAMP;
	const g = canvas.getContext('2d');
	g.fillStyle = '#202020';
	g.fillRect(0, 0, canvas.width, canvas.height);
	for (let i = 0; i < S.blocks; i++) {
		const one = i === 0 || i === S.blocks - 1 || ((stamp >>> (S.bits - i)) & 1) === 1;
		g.fillStyle = one ? '#ffffff' : '#000000';
		g.fillRect(S.x + i * S.blockSize, S.y, S.blockSize, S.blockSize);
	}
};
// i420Frame converts a canvas to an I420 VideoFrame with limited-range
// BT.601 luma, as a VP8 decoder outputs it.
window.i420Frame = (canvas) => {
	const w = canvas.width, h = canvas.height;
	const px = canvas.getContext('2d').getImageData(0, 0, w, h).data;
	const cw = w / 2, ch = h / 2;
	const buf = new Uint8Array(w * h + 2 * cw * ch);
	for (let i = 0; i < w * h; i++) {
		const l = (299 * px[4 * i] + 587 * px[4 * i + 1] + 114 * px[4 * i + 2]) / 1000;
		buf[i] = Math.round(16 + (l * 219) / 255);
	}
	buf.fill(128, w * h);
	return new VideoFrame(buf, {format: 'I420', codedWidth: w, codedHeight: h, timestamp: 0});
};`

// newProbePage starts Chromium on a blank page with StampJS, the probe and
// the stamp painter loaded.
func newProbePage(t *testing.T) *browser {
	t.Helper()
	b, err := startBrowser(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	if err := b.eval(10*time.Second, `(() => { window.portholeViewer = {}; return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	// installProbe needs a viewer with a video; define the functions only.
	if err := b.eval(10*time.Second, "(() => {"+stampAndProbe()+pageJS+"; return true; })()", nil); err != nil {
		t.Fatalf("load probe: %v", err)
	}
	return b
}

// TestProbe checks the page side of the measurement in one Chromium.
func TestProbe(t *testing.T) {
	b := newProbePage(t)
	t.Run("sample math", func(t *testing.T) { testProbeSampleMath(t, b) })
	t.Run("live video", func(t *testing.T) { testProbeLiveVideo(t, b) })
}

// testProbeSampleMath paints a stamp on a synthetic screen, shows it scaled
// as the viewer's <video> may be, and checks the probe reads the exact age,
// and that an unreadable frame is reported as such.
func testProbeSampleMath(t *testing.T, b *browser) {
	tests := []struct {
		name           string
		screenW, scrH  int
		shownW, shownH int
		stamp          int64 // painted stamp; the page's "now" is stamp+age
		age            int
		blank          bool
	}{
		{"1080p at 1:1", 1920, 1080, 1920, 1080, 1_700_000_000_123, 42, false},
		{"720p at 1:1", 1280, 720, 1280, 720, 1_700_000_000_777, 0, false},
		{"1080p encoded at half size", 1920, 1080, 960, 540, 1_700_000_001_000, 95, false},
		{"720p at 1.5x", 1280, 720, 1920, 1080, 1_699_999_999_999, 250, false},
		{"stamp wraps between paint and read", 1280, 720, 1280, 720, 1<<32 - 3, 10, false},
		{"no stamp on screen", 1280, 720, 1280, 720, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stamp := tc.stamp % (1 << 32)
			now := tc.stamp + int64(tc.age)
			expr := fmt.Sprintf(`(async () => {
				const screen = document.createElement('canvas');
				screen.width = %d; screen.height = %d;
				paintStamp(screen, %d);
				if (%v) { const g = screen.getContext('2d'); g.fillStyle = '#202020'; g.fillRect(0, 0, screen.width, screen.height); }
				const shown = document.createElement('canvas');
				shown.width = %d; shown.height = %d;
				shown.getContext('2d').drawImage(screen, 0, 0, shown.width, shown.height);
				window.portholeBench.configure(screen.width, screen.height);
				const now = %d;
				let viaCanvas, viaFrame;
				try {
					viaCanvas = {age: window.portholeBench.sample(shown, shown.width, shown.height, now)};
				} catch (e) {
					viaCanvas = {error: String(e.message)};
				}
				const frame = i420Frame(shown);
				try {
					viaFrame = {age: await window.portholeBench.sampleFrame(frame, now)};
				} catch (e) {
					viaFrame = {error: String(e.message)};
				}
				frame.close();
				return [viaCanvas, viaFrame];
			})()`, tc.screenW, tc.scrH, stamp, tc.blank, tc.shownW, tc.shownH, now)
			var got [2]struct {
				Age   *int   `json:"age"`
				Error string `json:"error"`
			}
			if err := b.eval(10*time.Second, expr, &got); err != nil {
				t.Fatal(err)
			}
			for i, path := range []string{"canvas", "I420 VideoFrame"} {
				g := got[i]
				if tc.blank {
					if g.Age != nil || !strings.HasPrefix(g.Error, "stamp:") {
						t.Errorf("%s: blank screen: got age %v error %q, want a stamp: error", path, g.Age, g.Error)
					}
					continue
				}
				if g.Age == nil || *g.Age != tc.age {
					t.Errorf("%s: age = %v (error %q), want %d", path, g.Age, g.Error, tc.age)
				}
			}
		})
	}
}

// liveJS plays a canvas that paints the current time as its stamp into a
// <video> (canvas.captureStream: real video frames, presented by the
// compositor) and exposes it as the viewer does. Chromium gathers no
// 127.0.0.1 candidates for a peer connection inside one page, and tests talk
// to 127.0.0.1 only, so the receiver statistics come from a hand-written
// stand-in: an inbound-rtp record counting the frames the video decoded.
const liveJS = `(async () => {
	const screen = document.createElement('canvas');
	screen.width = 1280; screen.height = 720;
	paintStamp(screen, Date.now() % 4294967296);
	window.benchPaint = setInterval(() => paintStamp(screen, Date.now() % 4294967296), 33);
	const video = document.createElement('video');
	video.muted = true; video.autoplay = true; video.playsInline = true;
	document.body.append(video);
	video.srcObject = screen.captureStream(30);
	await video.play();
	const pc = {
		async getStats() {
			const q = video.getVideoPlaybackQuality();
			return new Map([['in', {type: 'inbound-rtp', kind: 'video', timestamp: performance.now(),
				framesDecoded: q.totalVideoFrames, framesDropped: q.droppedVideoFrames,
				bytesReceived: 1000 * q.totalVideoFrames, frameWidth: video.videoWidth, frameHeight: video.videoHeight}]]);
		},
	};
	window.portholeViewer = {pc, video, state: 'live'};
	return true;
})()`

// testProbeLiveVideo runs the page side of a measurement on live video in
// Chromium: frames presented, stamps read, plausible ages, and statistics
// differenced over the window.
func testProbeLiveVideo(t *testing.T, b *browser) {
	if err := b.eval(20*time.Second, liveJS, nil); err != nil {
		t.Fatalf("live video: %v", err)
	}
	vs, err := b.waitVideo(context.Background(), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if vs.Width != 1280 || vs.Height != 720 {
		t.Fatalf("video is %dx%d, want the canvas's 1280x720", vs.Width, vs.Height)
	}
	if err := b.installProbe(1280, 720); err != nil {
		t.Fatal(err)
	}
	if err := b.begin(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	r, err := b.end()
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasStats || r.FramesDecoded < 5 || r.BytesReceived != 1000*r.FramesDecoded || r.FrameWidth != vs.Width {
		t.Fatalf("receiver statistics did not move: %+v", r)
	}
	if len(r.Ages) < 5 || r.Presented < len(r.Ages) {
		t.Fatalf("%d stamps read from %d presented frames (%d unreadable, last %q)", len(r.Ages), r.Presented, r.Unreadable, r.LastError)
	}
	// A stamp is a few frames old at most (a second on a loaded machine),
	// never from the future.
	if p50 := percentile(r.Ages, 50); p50 < 0 || p50 > 1000 || math.IsNaN(p50) {
		t.Fatalf("median age %v ms: ages %v", p50, r.Ages)
	}
	t.Logf("%d of %d presented frames read through a YUV VideoFrame", r.YUVFrames, r.Presented)
	if r.Seconds < 1.5 || r.Seconds > 10 {
		t.Fatalf("window lasted %v s, want about 2", r.Seconds)
	}
	if err := b.eval(5*time.Second, `(() => { clearInterval(window.benchPaint); return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
}
