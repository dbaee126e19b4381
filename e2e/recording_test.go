package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/broker"
	"porthole/broker/recording/recordingtest"
	"porthole/internal/browsertest"
	"porthole/internal/testpattern"
)

// recordingRow is a recording as GET /api/recordings shows it.
type recordingRow struct {
	ID         string
	State      string
	Requester  string
	DurationMS int64 `json:"duration_ms"`
	Files      []struct {
		Name string
		N    int
	}
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// toolBin builds (once per test binary) the broker and CLI binaries for the
// tests that need a separate process: a SIGKILL must be a real crash, and
// the CLI's exit code is what an operator sees.
func toolBin(t *testing.T, name string) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "porthole-e2e-tools-")
		if binErr != nil {
			return
		}
		for _, n := range []string{"porthole-broker", "porthole"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, n), "porthole/cmd/"+n).CombinedOutput()
			if err != nil {
				binErr = fmt.Errorf("build %s: %v\n%s", n, err, out)
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, name)
}

// runSession drives one real support session from the portal: consent Yes,
// the test pattern on screen, a few clicks in the video, then Off after
// about hold. It returns the session id.
func runSession(t *testing.T, ctx context.Context, e *env, admin *client, ep *endpoint, clicks int, hold time.Duration) string {
	t.Helper()
	openViewer(t, ctx, e, ep.deviceID)
	waitViewerState(t, ctx, "waiting_consent", 10*time.Second)
	consenttest.Press(t, ep.x.Display, consent.Allowed)
	waitViewerState(t, ctx, "live", 20*time.Second)
	waitPatterns(t, ctx)
	start := time.Now()
	for i := range clicks {
		cx, cy := clientPoint(t, ctx, 200+100*i, 600)
		browsertest.Step(ctx, t, 10*time.Second, chromedp.MouseClickXY(cx, cy))
		time.Sleep(300 * time.Millisecond)
	}
	browsertest.Step(ctx, t, 10*time.Second, chromedp.KeyEvent("q"), chromedp.KeyEvent(kb.Enter))
	time.Sleep(hold - time.Since(start))
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`#session-off`)))
	waitViewerState(t, ctx, "ended", 10*time.Second)
	return latestSession(t, admin, ep.deviceID).ID
}

// auditTimes returns the times of the first record of each action on target.
func auditTimes(t *testing.T, c *client, target string) map[string]time.Time {
	t.Helper()
	var recs []struct {
		Action string
		Time   time.Time
	}
	if st, body := c.do("GET", "/api/audit?order=asc&limit=1000&target="+target, nil, &recs); st != 200 {
		t.Fatalf("audit: %d %s", st, body)
	}
	out := map[string]time.Time{}
	for _, r := range recs {
		if _, ok := out[r.Action]; !ok {
			out[r.Action] = r.Time
		}
	}
	return out
}

// stampAt seeks the player to sec and reads the test pattern's frame stamp
// from the decoded picture.
func stampAt(t *testing.T, ctx context.Context, sec float64) float64 {
	t.Helper()
	js := "(() => {\n" + testpattern.StampJS + fmt.Sprintf(`
	return new Promise((resolve, reject) => {
	  const v = document.getElementById('rec-video');
	  const read = () => {
	    const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
	    const g = c.getContext('2d'); g.drawImage(v, 0, 0);
	    try { resolve(readStamp(g.getImageData(0, 0, c.width, c.height))); } catch (e) { reject(e); }
	  };
	  v.addEventListener('seeked', () => setTimeout(read, 100), { once: true });
	  v.currentTime = %f;
	}); })()`, sec)
	return browsertest.Value(ctx, t, 15*time.Second, chromedp.Evaluate[float64](js, func(p *runtime.EvaluateParams) {
		p.AwaitPromise = ptrTo(true)
	}))
}

// TestRecordingReplay: a real session is recorded as VP8 WebM that ffprobe
// reads with the session's duration; an auditor plays it in the portal's
// player (test pattern on screen, seeking to other frames, the clicks on
// the timeline), the replay is audited, a technician is refused, and a
// tampered file fails "porthole recordings verify".
func TestRecordingReplay(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	ep := startEndpoint(t, e, admin)
	ctx := browsertest.New(t)
	const clicks = 3
	id := runSession(t, ctx, e, admin, ep, clicks, 6*time.Second)

	// The viewer hears "ended" before the broker has finished the file.
	var recs []recordingRow
	waitFor(t, "recording finished", 10*time.Second, func() bool {
		if st, body := admin.do("GET", "/api/recordings?device="+ep.deviceID, nil, &recs); st != 200 || len(recs) != 1 {
			t.Fatalf("recordings: %d %s", st, body)
		}
		return recs[0].State != "recording"
	})
	if r := recs[0]; r.ID != id || r.State != "finished" || r.Requester != "admin" {
		t.Fatalf("recording %+v, want session %s finished", r, id)
	}
	// The file: VP8 in WebM, as long as the session was live (±1 s).
	file := filepath.Join(e.DataDir, "recordings", id, "1.webm")
	p := checkSessionFile(t, admin, id, file)
	// Keys are kept as presence by default: the "q" typed is an anonymous
	// key, Enter is named, and no key code that types a character is there.
	sidecar, err := os.ReadFile(filepath.Join(e.DataDir, "recordings", id, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sidecar), "KeyQ") || !strings.Contains(string(sidecar), `"c":"key"`) || !strings.Contains(string(sidecar), `"c":"Enter"`) {
		t.Fatalf("keys in the sidecar, want presence only:\n%s", sidecar)
	}
	if !strings.Contains(auditActions(t, admin, id), "recording.finished map[") {
		t.Fatalf("no recording.finished audit event:\n%s", auditActions(t, admin, id))
	}

	// A technician may not replay; an auditor may.
	_, tpw := newUser(t, admin, "tech1", "technician")
	if st, body := e.login(t, "tech1", tpw).do("GET", "/api/recordings/"+id+"/files/1", nil, nil); st != 403 {
		t.Fatalf("technician got %d %s, want 403", st, body)
	}
	apw := replayAndSeek(t, ctx, e, admin, id, p.Duration)
	// Play at 2×, and the timeline lists the clicks; clicking one jumps there.
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`#rec-speed-2`)), chromedp.Click(css(`#rec-play`)))
	waitFor(t, "playing at 2x", 10*time.Second, func() bool {
		return browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[bool](
			`(() => { const v = document.getElementById('rec-video'); return !v.paused && v.playbackRate === 2 && v.currentTime > 1.2; })()`))
	})
	n := browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[int](`document.querySelectorAll('.rec-event[data-kind="input"][data-t="down"]').length`))
	if n != clicks {
		t.Fatalf("timeline shows %d clicks, want %d", n, clicks)
	}
	// Paused for what follows, whether or not it has played to the end
	// meanwhile (Play would start it again then).
	evalString(t, ctx, `(() => { document.getElementById('rec-video').pause(); return ''; })()`)
	want := browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[float64](`(() => {
	  const a = [...document.querySelectorAll('.rec-event[data-t="down"]')].pop(); a.click();
	  const seg = window.portholePlayer.events.find((e) => e.kind === 'segment');
	  return (Number(a.dataset.ms) - seg.ms) / 1000; })()`))
	waitFor(t, "jump to the last click", 10*time.Second, func() bool {
		at := browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[float64](`document.getElementById('rec-video').currentTime`))
		return at > want-0.3 && at < want+0.3
	})
	// The overlay marks the click where the pointer was, and shows the key.
	waitFor(t, "click ring on the overlay", 10*time.Second, func() bool {
		return browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[int](`(() => {
		  const c = document.getElementById('rec-overlay'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		  let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i+1] > 120 && d[i+1] < 200 && d[i+2] < 80 && d[i+3] > 200) n++;
		  return n; })()`)) > 20
	})
	defer func() {
		if t.Failed() {
			t.Logf("player: %s", evalString(t, ctx, `(() => { const v = document.getElementById('rec-video'), k = document.getElementById('rec-keys');
			  return JSON.stringify({ currentTime: v.currentTime, paused: v.paused, ended: v.ended, keys: k.textContent, keysHidden: k.hidden,
			    kdown: [...document.querySelectorAll('.rec-event[data-t="kdown"]')].map((a) => a.dataset.ms),
			    segments: window.portholePlayer.events.filter((e) => e.kind === 'segment').map((e) => e.ms) }); })()`))
		}
	}()
	// The overlay shows the key press (a dot: which key is not recorded),
	// and the timeline names Enter.
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`.rec-event[data-t="kdown"]`)))
	waitFor(t, "key on the overlay", 10*time.Second, func() bool {
		return strings.Contains(browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[string](
			`document.getElementById('rec-keys').textContent`)), "•")
	})
	if tl := evalString(t, ctx, `[...document.querySelectorAll('.rec-event[data-t="kdown"]')].map((a) => a.textContent).join('|')`); !strings.Contains(tl, "key Enter") ||
		strings.Contains(tl, "KeyQ") {
		t.Fatalf("timeline keys: %s", tl)
	}
	// Range requests, and ids only: anything else is refused before a path is built.
	req, _ := http.NewRequest("GET", e.URL+"/api/recordings/"+id+"/files/1", nil)
	req.Header.Set("Range", "bytes=100-199")
	res, err := admin.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 206 || res.ContentLength != 100 || res.Header.Get("Content-Type") != "video/webm" {
		t.Fatalf("range request: %d, %d bytes, %s", res.StatusCode, res.ContentLength, res.Header.Get("Content-Type"))
	}
	for path, want := range map[string]int{
		"/api/recordings/" + id + "/files/01": 404, "/api/recordings/" + id + "/files/-1": 404,
		"/api/recordings/" + id + "/files/99": 404, "/api/recordings/..%2f..%2fporthole.db/files/1": 400,
		"/api/recordings/" + id + "%2f1.webm/files/0": 400, "/api/recordings/nosuch/files/1": 404,
	} {
		if st, body := admin.do("GET", path, nil, nil); st != want {
			t.Errorf("GET %s: %d %s, want %d", path, st, body, want)
		}
	}
	if !strings.Contains(auditActions(t, admin, id), "recording.replayed") {
		t.Fatalf("the auditor's replay is not audited:\n%s", auditActions(t, admin, id))
	}

	// The CLI checks every file against its audit entry; a changed byte fails.
	cfg := filepath.Join(t.TempDir(), "cli.json")
	cli := func(args ...string) (string, int) {
		cmd := exec.Command(toolBin(t, "porthole"), args...)
		cmd.Env = append(os.Environ(), "PORTHOLE_CONFIG="+cfg)
		if args[0] == "login" {
			cmd.Stdin = strings.NewReader(apw + "\n")
		}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("porthole %v: %v", args, err)
		}
		return string(out), code
	}
	if out, code := cli("login", "--broker", e.URL, "--user", "auditor1", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, out)
	}
	if out, code := cli("recordings", "verify"); code != 0 || !strings.Contains(out, "ok      "+id) {
		t.Fatalf("verify before tampering: exit %d\n%s", code, out)
	}
	flipByte(t, file)
	out, code := cli("recordings", "verify")
	if code != 1 || !strings.Contains(out, "FAILED  "+id) || !strings.Contains(out, "1.webm: sha256") {
		t.Fatalf("verify after tampering: exit %d\n%s", code, out)
	}
}

// replayAndSeek logs an auditor ("auditor1", created here) into the
// portal, opens recording id in the player and checks it: its duration is
// the file's (fileDur, ±0.5 s), seeking shows other frames of the test
// pattern and seeking back the same one. It returns the auditor's password.
func replayAndSeek(t *testing.T, ctx context.Context, e *env, admin *client, id string, fileDur float64) string {
	t.Helper()
	_, apw := newUser(t, admin, "auditor1", "auditor")
	browsertest.Step(ctx, t, 30*time.Second,
		chromedp.Click(css(`#logout`)),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), "auditor1"),
		chromedp.SendKeys(css(`#password`), apw),
		chromedp.Click(css(`#login-submit`)),
		chromedp.WaitVisible(css(`#whoami`)),
		chromedp.Navigate(e.URL+"/#/recordings"),
		chromedp.WaitVisible(css(`tr[data-recording="`+id+`"] a`)),
		chromedp.Click(css(`tr[data-recording="`+id+`"] a`)),
		chromedp.WaitVisible(css(`#rec-video`)),
	)
	waitFor(t, "player metadata", 15*time.Second, func() bool {
		return browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[bool](
			`(() => { const v = document.getElementById('rec-video'); return v.readyState >= 2 && v.duration > 0 && isFinite(v.duration); })()`))
	})
	dur := browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[float64](`document.getElementById('rec-video').duration`))
	if d := dur - fileDur; d < -0.5 || d > 0.5 {
		t.Fatalf("player duration %.2fs, file %.2fs", dur, fileDur)
	}
	// Seeking shows other frames of the session: the pattern's frame stamp
	// (30 per second) grows by about the time skipped.
	s1 := stampAt(t, ctx, 1)
	s2 := stampAt(t, ctx, dur-1)
	if want := 30 * (dur - 2) / 2; s2-s1 < want {
		t.Fatalf("stamps %v at 1s and %v at %.1fs: want at least %v apart", s1, s2, dur-1, want)
	}
	// The picture there is the session's test pattern (the first frames
	// are the encoder's coarse start-up keyframe).
	// (The four patches are 255 apart in some channel: 80 still tells them apart.)
	waitVideoPatterns(t, ctx, "rec-video", 80)
	// Stamps are milliseconds; a loaded machine may land one or two frames
	// off the first read (seeking is to the nearest decodable frame).
	back := stampAt(t, ctx, 1)
	if d := back - s1; d < -100 || d > 100 {
		t.Fatalf("seeking back to 1s shows stamp %v, first read %v", back, s1)
	}
	return apw
}

func ptrTo[T any](v T) *T { return &v }

// flipByte inverts the byte in the middle of file: a change whatever the
// byte was (writing a fixed value may leave it as it was).
func flipByte(t *testing.T, file string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// checkSessionFile: the first video file of session id's recording is
// VP8 in WebM at the test display's size, as long as the session was live
// (±1 s), and decodes. It returns what ffprobe read.
func checkSessionFile(t *testing.T, c *client, id, file string) recordingtest.Probe {
	t.Helper()
	endedAudit(t, c, id)
	times := auditTimes(t, c, id)
	live := times["session.ended"].Sub(times["session.started"]).Seconds()
	p := recordingtest.ProbeFile(t, file)
	if p.Codec != "vp8" || p.Width != 1280 || p.Height != 720 {
		t.Fatalf("ffprobe: %+v, want vp8 1280x720", p)
	}
	if d := p.Duration - live; d < -1 || d > 1 {
		t.Fatalf("recording lasts %.2fs, the session was live %.2fs", p.Duration, live)
	}
	recordingtest.Decode(t, file)
	return p
}

// liveThenKill runs a live support session against the broker process
// (agent binary, Xvfb, Chromium) for about 6 seconds and SIGKILLs the
// broker. It returns the session id and how long it was live.
func liveThenKill(t *testing.T, bp *brokerProc) (string, float64) {
	t.Helper()
	e := bp.env
	admin := e.login(t, "admin", e.Password)
	ep := startEndpoint(t, e, admin)
	ctx := browsertest.New(t)
	openViewer(t, ctx, e, ep.deviceID)
	consenttest.Press(t, ep.x.Display, consent.Allowed)
	waitViewerState(t, ctx, "live", 20*time.Second)
	waitPatterns(t, ctx)
	id := latestSession(t, admin, ep.deviceID).ID
	times := auditTimes(t, admin, id)
	time.Sleep(6 * time.Second)
	killed := time.Now()
	bp.kill(syscall.SIGKILL)
	return id, killed.Sub(times["session.started"]).Seconds()
}

// checkCutRecording: a recording file cut by a crash after the session was
// live for live seconds reads (ffprobe) up to a few seconds before it, and
// decodes (ffmpeg).
func checkCutRecording(t *testing.T, file string, live float64) {
	t.Helper()
	p := recordingtest.ProbeFile(t, file)
	if p.Codec != "vp8" || p.LastPTS < live-3 {
		t.Fatalf("after SIGKILL ffprobe reads %+v; the session was live %.1fs", p, live)
	}
	t.Logf("after SIGKILL: %d frames, last at %.2fs; live for %.2fs", p.Frames, p.LastPTS, live)
	recordingtest.Decode(t, file)
}

// checkRecovered: a recording a crash cut short verifies against its
// audited digests and its recovery is audited.
func checkRecovered(t *testing.T, c *client, id string) {
	t.Helper()
	var checks []struct {
		ID    string
		OK    bool
		Error string
	}
	if st, body := c.do("GET", "/api/recordings/verify?id="+id, nil, &checks); st != 200 || len(checks) != 1 || !checks[0].OK {
		t.Fatalf("verify after recovery: %d %s", st, body)
	}
	if !strings.Contains(auditActions(t, c, id), "recording.recovered") {
		t.Fatalf("no recording.recovered event:\n%s", auditActions(t, c, id))
	}
}

// TestRecordingSurvivesBrokerKill: SIGKILL of the broker process in the
// middle of a session leaves a WebM that ffprobe reads up to a few seconds
// before the kill; the next start digests it into the audit log and it
// verifies.
func TestRecordingSurvivesBrokerKill(t *testing.T) {
	dir := t.TempDir()
	bp := startBrokerBinary(t, dir, nil)
	e := bp.env
	id, want := liveThenKill(t, bp)

	file := filepath.Join(dir, "recordings", id, "1.webm")
	checkCutRecording(t, file, want)

	// The next start digests the cut recording into the audit log.
	e2 := startBrokerIn(t, dir, nil)
	e2.Password = e.Password
	admin2 := e2.login(t, "admin", e.Password)
	var r recordingRow
	if st, body := admin2.do("GET", "/api/recordings/"+id, nil, &r); st != 200 || r.State != "interrupted" {
		t.Fatalf("recording after restart: %d %s", st, body)
	}
	checkRecovered(t, admin2, id)
}

// TestRecordingDiskFull: a recording that runs out of room (a cap standing
// in for a full disk) is logged and audited, never silent. With
// recording.required the session ends; without it the session goes on and
// the recording kept up to that point still plays.
func TestRecordingDiskFull(t *testing.T) {
	e := startBrokerWith(t, t.TempDir(), nil, func(c *broker.Config) { c.RecordingMaxBytes = 40 << 10 })
	admin := e.login(t, "admin", e.Password)
	ep := startEndpoint(t, e, admin)
	setting := func(key, value string) {
		t.Helper()
		if st, body := admin.do("PUT", "/api/settings/"+key, map[string]string{"scope": "global", "value": value}, nil); st != 200 {
			t.Fatalf("set %s: %d %s", key, st, body)
		}
	}

	// Required: the session ends when the recording stops. (Only what is
	// relayed is recorded, so a viewer must be there.)
	setting("recording.required", "true")
	ctx := browsertest.New(t)
	openViewer(t, ctx, e, ep.deviceID)
	waitViewerState(t, ctx, "waiting_consent", 10*time.Second)
	consenttest.Press(t, ep.x.Display, consent.Allowed)
	waitViewerState(t, ctx, "ended", 30*time.Second)
	s := latestSession(t, admin, ep.deviceID)
	if !strings.Contains(s.EndReason, "recording") {
		t.Fatalf("end reason %q, want the recording failure", s.EndReason)
	}
	if log := auditActions(t, admin, s.ID); !strings.Contains(log, "recording.failed map[") || !strings.Contains(log, "disk_full:true") ||
		!strings.Contains(log, "required:true") {
		t.Fatalf("the failure is not audited:\n%s", log)
	}
	consenttest.WaitGone(t, ep.x.Display, consent.IndicatorTitle)

	// Not required: the session outlives its recording.
	setting("recording.required", "false")
	id := runSession(t, ctx, e, admin, ep, 1, 6*time.Second)
	if r := viewerReason(t, ctx); !strings.Contains(r, "ended by admin (Off)") {
		t.Fatalf("the session ended with %q, want Off", r)
	}
	log := auditActions(t, admin, id)
	if !strings.Contains(log, "recording.failed map[") || !strings.Contains(log, "required:false") {
		t.Fatalf("the failure is not audited:\n%s", log)
	}
	var r recordingRow
	waitFor(t, "recording closed", 10*time.Second, func() bool {
		admin.do("GET", "/api/recordings/"+id, nil, &r)
		return r.State != "recording"
	})
	if r.State != "failed" {
		t.Fatalf("recording state %q, want failed", r.State)
	}
	file := filepath.Join(e.DataDir, "recordings", id, "1.webm")
	if p := recordingtest.ProbeFile(t, file); p.Codec != "vp8" || p.Frames == 0 {
		t.Fatalf("the partial recording: %+v", p)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 40<<10 {
		t.Fatalf("partial recording of %d bytes is over the cap", fi.Size())
	}
}
