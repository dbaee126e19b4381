package benchrig

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/internal/browsertest"
	"porthole/internal/testpattern"
)

// probeJS is the page-side half of the measurement; see the comment at its top.
//
//go:embed probe.js
var probeJS string

// browser is one headless Chromium (a tree of processes) with one tab.
type browser struct {
	ctx     context.Context // the tab
	cancels []context.CancelFunc
	dir     string
	pid     int
}

// startBrowser launches Chromium with the loopback WebRTC flags of
// browsertest and opens a blank tab.
func startBrowser(ctx context.Context) (_ *browser, err error) {
	path, err := browsertest.ExecPath()
	if err != nil {
		return nil, fmt.Errorf("%w: chromium not installed (run make deps): %w", ErrStage, err)
	}
	b := &browser{}
	b.dir, err = os.MkdirTemp("", "porthole-bench-chromium-")
	if err != nil {
		return nil, err
	}
	actx, cancelA := chromedp.NewExecAllocator(ctx, browsertest.Options(path, b.dir)...)
	tctx, cancelT := chromedp.NewContext(actx)
	b.ctx, b.cancels = tctx, []context.CancelFunc{cancelT, cancelA}
	if err := chromedp.Do(tctx, chromedp.Navigate("about:blank")); err != nil {
		b.close()
		return nil, fmt.Errorf("%w: start chromium: %w", ErrStage, err)
	}
	b.pid = chromedp.FromContext(tctx).Browser.Process().Pid
	return b, nil
}

// close stops Chromium and removes its profile. Idempotent.
func (b *browser) close() {
	for _, c := range b.cancels {
		c()
	}
	b.cancels = nil
	if b.dir != "" {
		os.RemoveAll(b.dir)
		b.dir = ""
	}
}

// cpu is the CPU time used so far by Chromium and all its child processes.
func (b *browser) cpu() (time.Duration, error) { return treeCPU(b.pid) }

// do runs actions within d.
func (b *browser) do(d time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// eval evaluates a JS expression (awaiting a promise) within d and decodes
// its JSON value into out (nil: ignore it).
func (b *browser) eval(d time.Duration, expr string, out any) error {
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// login signs the browser in to the portal at base with a same-origin
// fetch, as the login form does, so the page holds the session cookie.
func (b *browser) login(base, user, password string) error {
	if err := b.do(30*time.Second, chromedp.Navigate(base+"/")); err != nil {
		return fmt.Errorf("%w: open portal %s: %w", ErrStage, base, err)
	}
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	var status int
	expr := fmt.Sprintf(`fetch('/api/login', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: %q}).then((r) => r.status)`, body)
	if err := b.eval(15*time.Second, expr, &status); err != nil {
		return fmt.Errorf("%w: browser login: %w", ErrStage, err)
	}
	if status != 200 {
		return fmt.Errorf("%w: browser login: HTTP %d", ErrStage, status)
	}
	return nil
}

// openViewer loads the portal's session viewer for sid in a fresh page.
func (b *browser) openViewer(base, sid string) error {
	err := b.do(30*time.Second, chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/#/sessions/"+sid))
	if err != nil {
		return fmt.Errorf("%w: open viewer: %w", ErrStage, err)
	}
	return nil
}

// viewerState is what waitVideo reads from the page.
type viewerState struct {
	Width  int    `json:"w"`
	Height int    `json:"h"`
	State  string `json:"state"`
	Shown  string `json:"shown"`
	Viewer bool   `json:"viewer"`
	Reason string `json:"reason"`
	Conn   string `json:"conn"`
	Href   string `json:"href"`
	Body   string `json:"body"`
}

// String describes the page for error messages.
func (v viewerState) String() string {
	if !v.Viewer {
		return fmt.Sprintf("no viewer on the page: %s shows %q", v.Href, v.Body)
	}
	return fmt.Sprintf("viewer page: state=%q shown=%q %s connection=%q video=%dx%d",
		v.State, v.Shown, v.Reason, v.Conn, v.Width, v.Height)
}

const viewerStateJS = `(() => {
	const v = window.portholeViewer;
	const text = (id) => { const el = document.getElementById(id); return el ? el.textContent.trim() : ''; };
	const video = v && v.video;
	return {viewer: !!v, w: video ? video.videoWidth : 0, h: video ? video.videoHeight : 0,
		state: v && v.state ? String(v.state) : '', shown: text('session-state'),
		reason: text('session-reason'), conn: v && v.pc ? v.pc.connectionState : text('session-conn'),
		href: location.href, body: document.body ? document.body.innerText.slice(0, 200) : ''};
})()`

// waitVideo waits until the viewer's <video> shows decoded frames.
func (b *browser) waitVideo(ctx context.Context, d time.Duration) (viewerState, error) {
	var vs viewerState
	err := poll(ctx, d, func() (bool, error) {
		if err := b.eval(5*time.Second, viewerStateJS, &vs); err != nil {
			return false, err
		}
		return vs.Width > 0 && vs.Height > 0, nil
	})
	if err != nil {
		return vs, fmt.Errorf("%w: no video in the viewer (%s): %w", ErrStage, vs, err)
	}
	return vs, nil
}

// describe reads the viewer page's state for an error message.
func (b *browser) describe() string {
	var vs viewerState
	if err := b.eval(5*time.Second, viewerStateJS, &vs); err != nil {
		return "viewer page unreadable: " + err.Error()
	}
	return vs.String()
}

// installProbe loads StampJS and the probe into the page and starts reading
// the stamp from every presented frame of the viewer's video.
func (b *browser) installProbe(screenW, screenH int) error {
	expr := fmt.Sprintf(`(() => {
		if (!window.portholeBench) { %s }
		const v = window.portholeViewer;
		window.portholeBench.install(v.video, v.pc, %d, %d);
		return true;
	})()`, stampAndProbe(), screenW, screenH)
	if err := b.eval(10*time.Second, expr, nil); err != nil {
		return fmt.Errorf("%w: install probe: %w", ErrStage, err)
	}
	return nil
}

// stampAndProbe is the script that defines readStamp and portholeBench.
func stampAndProbe() string { return testpattern.StampJS + "\n" + probeJS + "\n" }

// probeResult is what window.portholeBench.end() returns for one window.
type probeResult struct {
	Seconds             float64   `json:"seconds"`
	StatsSeconds        float64   `json:"stats_seconds"`
	Ages                []float64 `json:"ages"`
	Unreadable          int       `json:"unreadable"`
	Presented           int       `json:"presented"`
	YUVFrames           int       `json:"yuv_frames"`
	LastError           string    `json:"last_error"`
	HasStats            bool      `json:"has_stats"`
	FramesDecoded       float64   `json:"frames_decoded"`
	FramesDropped       float64   `json:"frames_dropped"`
	BytesReceived       float64   `json:"bytes_received"`
	TotalDecodeTime     float64   `json:"total_decode_time"`
	JitterBufferDelay   float64   `json:"jitter_buffer_delay"`
	JitterBufferEmitted float64   `json:"jitter_buffer_emitted"`
	FrameWidth          int       `json:"frame_width"`
	FrameHeight         int       `json:"frame_height"`
}

func (b *browser) begin() error {
	return b.eval(10*time.Second, `window.portholeBench.begin().then(() => true)`, nil)
}

func (b *browser) end() (probeResult, error) {
	var r probeResult
	err := b.eval(10*time.Second, `window.portholeBench.end()`, &r)
	return r, err
}
