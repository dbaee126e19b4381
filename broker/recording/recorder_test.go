package recording

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"go.uber.org/goleak"

	"porthole/agent/capture/capturetest"
	"porthole/agent/encode"
	"porthole/broker/recording/recordingtest"
	"porthole/internal/clock/clocktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// frame is one real libvpx frame.
type frame struct {
	data []byte
	key  bool
}

// encodeFrames encodes n frames of the moving test pattern at w×h, 30 fps,
// with a keyframe every kfEvery frames.
func encodeFrames(t testing.TB, w, h, n, kfEvery int) []frame {
	t.Helper()
	enc, err := encode.NewVP8(encode.Config{Width: w, Height: h, FPS: 30, BitrateKbps: 600})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	var out []frame
	for i := range n {
		capturetest.Draw(img, i)
		data, key, err := enc.Encode(img, time.Duration(i)*time.Second/30, i%kfEvery == 0)
		if err != nil {
			t.Fatal(err)
		}
		if data == nil {
			t.Fatalf("frame %d: encoder produced nothing", i)
		}
		out = append(out, frame{data, key})
	}
	return out
}

// stream packetizes frames as pion's sender does (VP8 payloader with 15-bit
// picture ids, 90 kHz), 3000 ticks (1/30 s) apart.
type stream struct {
	p rtp.Packetizer
}

func newStream(ssrc uint32, seq uint16, ts uint32) *stream {
	return &stream{rtp.NewPacketizerWithOptions(1200, &codecs.VP8Payloader{EnablePictureID: true},
		rtp.NewFixedSequencer(seq), 90000, rtp.WithSSRC(ssrc), rtp.WithPayloadType(96), rtp.WithTimestamp(ts))}
}

func (s *stream) packets(frames []frame) [][]*rtp.Packet {
	var out [][]*rtp.Packet
	for _, f := range frames {
		out = append(out, s.p.Packetize(f.data, 3000))
	}
	return out
}

func flat(pp [][]*rtp.Packet) []*rtp.Packet {
	var out []*rtp.Packet
	for _, p := range pp {
		out = append(out, p...)
	}
	return out
}

// feed writes packets as the relay would: marshalled and unmarshalled
// again into one reused packet, so the recorder must copy.
func feed(t testing.TB, r *Recorder, pkts []*rtp.Packet) {
	t.Helper()
	var reuse rtp.Packet
	buf := make([]byte, 1500)
	for _, p := range pkts {
		n, err := p.MarshalTo(buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := reuse.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		r.WriteRTP(&reuse)
		clear(buf) // the relay's next read overwrites the buffer
	}
}

func newRecorder(t testing.TB, opts Options) (*Recorder, string) {
	t.Helper()
	root := t.TempDir()
	if opts.QueueSize == 0 {
		opts.QueueSize = 4096
	}
	r, err := New(root, "sess_1-A", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, filepath.Join(root, "sess_1-A")
}

type sidecarLine struct {
	MS   int64           `json:"ms"`
	At   time.Time       `json:"at"`
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data"`
}

func readSidecar(t testing.TB, path string) []sidecarLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []sidecarLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l sidecarLine
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("sidecar line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func kinds(lines []sidecarLine) []string {
	var k []string
	for _, l := range lines {
		k = append(k, l.Kind)
	}
	return k
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// parsed is the file as ebml-go (an independent EBML reader) sees it.
type parsed struct {
	Header  webm.EBMLHeader `ebml:"EBML"`
	Segment webm.Segment    `ebml:"Segment"`
}

func parseWebM(t testing.TB, path string) parsed {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p parsed
	if err := ebml.Unmarshal(f, &p); err != nil {
		t.Fatalf("ebml-go reads %s: %v", path, err)
	}
	return p
}

// 3 s of 320x240 at 30 fps, keyframe every 30 frames, RTP timestamps that
// wrap around 2^32 in the middle: one file that ffprobe and ffmpeg read as
// VP8 with every frame, the right size and duration; digests that match.
func TestRecordVP8(t *testing.T) {
	frames := encodeFrames(t, 320, 240, 90, 30)
	clk := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	var plis atomic.Int32
	r, dir := newRecorder(t, Options{Clock: clk, RequestKeyframe: func() { plis.Add(1) }})
	if err := r.Event(EventConsent, clk.Now(), map[string]any{"answer": "yes"}); err != nil {
		t.Fatal(err)
	}
	feed(t, r, flat(newStream(0x1234, 65500, math.MaxUint32-3000*45).packets(frames)))
	clk.Advance(3 * time.Second)
	// The recorder writes its "segment" line when its goroutine reaches the
	// first keyframe; let it get there so the sidecar's order is fixed.
	for deadline := time.Now().Add(10 * time.Second); r.Stats().Frames == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("recorder wrote no frame")
		}
	}
	if err := r.Event(EventInput, clk.Now(), json.RawMessage(`{"v":1,"t":"down","b":0}`)); err != nil {
		t.Fatal(err)
	}
	res, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.Frames != 90 || res.Dropped != 0 || res.Skipped != 0 || len(res.Files) != 1 {
		t.Fatalf("result %+v", res)
	}
	if plis.Load() != 1 {
		t.Errorf("keyframe requests %d, want 1 (at start)", plis.Load())
	}
	f := res.Files[0]
	path := filepath.Join(dir, "1.webm")
	if f.Path != path || f.Name != "1.webm" || f.Width != 320 || f.Height != 240 || f.Frames != 90 ||
		f.Duration < 2990*time.Millisecond || f.Duration > 3010*time.Millisecond {
		t.Errorf("file %+v", f)
	}
	p := recordingtest.ProbeFile(t, path)
	if p.Codec != "vp8" || p.Width != 320 || p.Height != 240 || p.Frames != 90 || !near(p.Duration, 3, 0.2) {
		t.Errorf("ffprobe %+v, want vp8 320x240 90 frames 3 s", p)
	}
	recordingtest.Decode(t, path)

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != f.Size || len(f.SHA256) != 64 {
		t.Errorf("size %d sha %q, file has %d", f.Size, f.SHA256, st.Size())
	}

	// ebml-go agrees on the structure: Duration, track, keyframe clusters, Cues.
	w := parseWebM(t, path)
	if w.Header.DocType != "webm" || !near(w.Segment.Info.Duration, 3000, 10) || w.Segment.Info.TimecodeScale != 1e6 {
		t.Errorf("header %+v info %+v", w.Header, w.Segment.Info)
	}
	if tr := w.Segment.Tracks.TrackEntry; len(tr) != 1 || tr[0].CodecID != "V_VP8" || tr[0].Video == nil ||
		tr[0].Video.PixelWidth != 320 || tr[0].Video.PixelHeight != 240 {
		t.Errorf("tracks %+v", w.Segment.Tracks)
	}
	var blocks, keys int
	var last int64 = -1
	for _, c := range w.Segment.Cluster {
		for i, b := range c.SimpleBlock {
			ts := int64(c.Timecode) + int64(b.Timecode)
			if ts <= last {
				t.Fatalf("timestamp %d after %d", ts, last)
			}
			last = ts
			if i == 0 != b.Keyframe {
				t.Errorf("cluster at %d: block %d keyframe=%v", c.Timecode, i, b.Keyframe)
			}
			blocks++
			if b.Keyframe {
				keys++
			}
		}
	}
	if blocks != 90 || keys != 3 || w.Segment.Cues == nil || len(w.Segment.Cues.CuePoint) != 3 {
		t.Errorf("%d blocks, %d keyframes, cues %+v", blocks, keys, w.Segment.Cues)
	}
	if last < 2900 || last > 2990 {
		t.Errorf("last timestamp %d ms", last)
	}

	lines := readSidecar(t, filepath.Join(dir, SidecarName))
	if want := []string{"start", "consent", "segment", "input", "stop"}; !slices.Equal(kinds(lines), want) {
		t.Fatalf("sidecar kinds %v, want %v", kinds(lines), want)
	}
	if lines[3].MS != 3000 || string(lines[3].Data) != `{"v":1,"t":"down","b":0}` {
		t.Errorf("input line %+v", lines[3])
	}
	if res.Sidecar.Name != SidecarName || res.Sidecar.Size == 0 {
		t.Errorf("sidecar %+v", res.Sidecar)
	}
	if res2, err2 := r.Close(); err2 != nil || res2.Sidecar != res.Sidecar {
		t.Errorf("second Close: %+v %v", res2, err2)
	}
	if err := r.Event(EventEnd, clk.Now(), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Event after Close: %v", err)
	}
}

// Reordered and duplicated packets are put back in order; a lost packet
// costs the frames up to the next keyframe (no decode errors), is marked in
// the sidecar and asks for a keyframe.
func TestRecordLossAndReorder(t *testing.T) {
	frames := encodeFrames(t, 320, 240, 90, 30)
	pp := newStream(7, 100, 5000).packets(frames)
	var pkts []*rtp.Packet
	for i, fp := range pp {
		if i == 40 {
			continue // frame 40 lost entirely
		}
		pkts = append(pkts, fp...)
	}
	// Swap neighbours and duplicate every 7th packet. (Not the first two:
	// the sample builder drops a stream's first packet if it comes second.)
	for i := 3; i+1 < len(pkts); i += 3 {
		pkts[i], pkts[i+1] = pkts[i+1], pkts[i]
	}
	var withDup []*rtp.Packet
	for i, p := range pkts {
		withDup = append(withDup, p)
		if i%7 == 0 {
			withDup = append(withDup, p)
		}
	}
	var plis atomic.Int32
	r, dir := newRecorder(t, Options{Clock: clocktest.New(time.Unix(1e9, 0)), RequestKeyframe: func() { plis.Add(1) }})
	feed(t, r, withDup)
	res, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Frames 0..39 and 60..89 are kept; 41..59 wait for the keyframe at 60.
	if res.Frames != 70 || res.Skipped != 19 {
		t.Errorf("frames %d skipped %d, want 70 and 19", res.Frames, res.Skipped)
	}
	if plis.Load() < 2 {
		t.Errorf("keyframe requests %d, want the start one and one after the loss", plis.Load())
	}
	path := filepath.Join(dir, "1.webm")
	p := recordingtest.ProbeFile(t, path)
	if p.Frames != 70 || !near(p.Duration, 3, 0.2) {
		t.Errorf("ffprobe %+v", p)
	}
	recordingtest.Decode(t, path)
	if k := kinds(readSidecar(t, filepath.Join(dir, SidecarName))); !slices.Contains(k, EventVideoGap) {
		t.Errorf("sidecar %v has no video_gap", k)
	}
}

// A full queue drops packets (counted) instead of blocking the relay.
func TestRecordQueueFull(t *testing.T) {
	frames := encodeFrames(t, 320, 240, 60, 30)
	pkts := flat(newStream(9, 1, 1).packets(frames))
	r, _ := newRecorder(t, Options{QueueSize: 1})
	start := time.Now()
	feed(t, r, pkts)
	if d := time.Since(start); d > time.Second {
		t.Errorf("feeding %d packets took %v", len(pkts), d)
	}
	res, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.Packets+res.Dropped != uint64(len(pkts)) || res.Dropped == 0 {
		t.Errorf("packets %d dropped %d of %d", res.Packets, res.Dropped, len(pkts))
	}
	for _, f := range res.Files {
		recordingtest.Decode(t, f.Path)
	}
}

// Without Close (a broker killed mid-session), the file on disk already
// plays up to the last frame written.
func TestRecordCrashSafe(t *testing.T) {
	frames := encodeFrames(t, 320, 240, 60, 30)
	r, dir := newRecorder(t, Options{})
	feed(t, r, flat(newStream(3, 1, 1).packets(frames)))
	// The last frame stays in the sample builder until the next packet.
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().Frames < 59 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d frames written", r.Stats().Frames)
		}
		time.Sleep(5 * time.Millisecond)
	}
	crashed := filepath.Join(t.TempDir(), "crashed.webm")
	b, err := os.ReadFile(filepath.Join(dir, "1.webm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashed, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p := recordingtest.ProbeFile(t, crashed)
	if p.Codec != "vp8" || p.Width != 320 || p.Frames != 59 || !near(p.LastPTS, 58.0/30, 0.05) {
		t.Errorf("crashed file: %+v", p)
	}
	recordingtest.Decode(t, crashed)
	// The sidecar is whole lines at every moment.
	if k := kinds(readSidecar(t, filepath.Join(dir, SidecarName))); !slices.Equal(k, []string{"start", "segment"}) {
		t.Errorf("sidecar %v", k)
	}
}

// A resolution change starts a new file, so each plays on its own; a sender
// restart (new SSRC, new timestamps) continues the same file after the
// real gap.
func TestRecordResolutionChangeAndRestart(t *testing.T) {
	small := encodeFrames(t, 320, 240, 30, 30)
	big := encodeFrames(t, 640, 360, 30, 30)
	clk := clocktest.New(time.Unix(2e9, 0))
	r, dir := newRecorder(t, Options{Clock: clk})
	s := newStream(1, 10, 10)
	feed(t, r, flat(s.packets(small)))
	feed(t, r, flat(s.packets(big)))
	waitFrames(t, r, 59)
	clk.Advance(1500 * time.Millisecond)
	// Agent reconnects: new SSRC, unrelated sequence numbers and timestamps.
	feed(t, r, flat(newStream(2, 40000, 123456789).packets(big)))
	res, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 || res.Frames != 90 {
		t.Fatalf("result %+v", res)
	}
	for i, want := range []struct {
		w, h, frames int
		dur          float64
	}{{320, 240, 30, 1}, {640, 360, 60, 1 + 1.5 + 1}} {
		f := res.Files[i]
		p := recordingtest.ProbeFile(t, f.Path)
		if p.Width != want.w || p.Height != want.h || p.Frames != want.frames || !near(p.Duration, want.dur, 0.2) {
			t.Errorf("file %d: %+v, want %+v", i+1, p, want)
		}
		recordingtest.Decode(t, f.Path)
	}
	var segs []sidecarLine
	for _, l := range readSidecar(t, filepath.Join(dir, SidecarName)) {
		if l.Kind == EventSegment {
			segs = append(segs, l)
		}
	}
	if len(segs) != 2 || string(segs[1].Data) != `{"file":"2.webm","height":360,"n":2,"width":640}` {
		t.Errorf("segment lines %+v", segs)
	}
}

func waitFrames(t *testing.T, r *Recorder, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().Frames < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d frames written", r.Stats().Frames)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// failingFile is a real file whose appends fail once it holds limit bytes.
type failingFile struct {
	*os.File
	limit   int64
	written int64
	err     error
}

func (f *failingFile) Write(p []byte) (int, error) {
	if f.written+int64(len(p)) > f.limit {
		n := int(f.limit - f.written)
		n, _ = f.File.Write(p[:n]) // a partial write, as a filling disk does
		f.written += int64(n)
		return n, f.err
	}
	n, err := f.File.Write(p)
	f.written += int64(n)
	return n, err
}

// A full disk (or any write error) stops the recorder loudly: Err, OnError
// once, Event fails; what was written still plays.
func TestRecordWriteFailure(t *testing.T) {
	frames := encodeFrames(t, 320, 240, 90, 30)
	pkts := flat(newStream(5, 1, 1).packets(frames))
	failAfter := func(limit int64, err error) func(*os.Root, string) (file, error) {
		return func(rt *os.Root, name string) (file, error) {
			f, e := rt.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
			if e != nil || filepath.Ext(name) != ".webm" {
				return f, e
			}
			return &failingFile{File: f, limit: limit, err: err}, nil
		}
	}
	for _, tc := range []struct {
		name string
		opts Options
		want error
	}{
		{"max bytes", Options{MaxBytes: 30_000}, ErrDiskFull},
		{"ENOSPC", Options{create: failAfter(25_000, syscall.ENOSPC)}, ErrDiskFull},
		{"EIO", Options{create: failAfter(25_000, syscall.EIO)}, ErrWrite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			var got atomic.Value
			tc.opts.OnError = func(err error) { calls.Add(1); got.Store(err) }
			r, dir := newRecorder(t, tc.opts)
			feed(t, r, pkts)
			res, err := r.Close()
			if !errors.Is(err, tc.want) || !errors.Is(r.Err(), tc.want) {
				t.Fatalf("Close err %v, Err %v, want %v", err, r.Err(), tc.want)
			}
			if calls.Load() != 1 || !errors.Is(got.Load().(error), tc.want) {
				t.Errorf("OnError called %d times with %v", calls.Load(), got.Load())
			}
			if res.Frames == 0 || res.Frames >= 90 || len(res.Files) != 1 {
				t.Fatalf("result %+v", res)
			}
			path := filepath.Join(dir, "1.webm")
			p := recordingtest.ProbeFile(t, path)
			if p.Frames != int(res.Frames) {
				t.Errorf("ffprobe %d frames, recorder wrote %d", p.Frames, res.Frames)
			}
			recordingtest.Decode(t, path)
			if err := r.Event(EventEnd, time.Now(), nil); err == nil {
				t.Error("Event after failure succeeded")
			}
		})
	}
}

func TestEventsAndNew(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	r, dir := newRecorder(t, Options{Clock: clk})
	for _, tc := range []struct {
		kind string
		data any
		ok   bool
	}{
		{EventViewOnly, map[string]bool{"view_only": true}, true},
		{EventCountdown, 119, true},
		{EventEnd, nil, true},
		{"", nil, false},
		{"Input", nil, false},
		{"bad kind", nil, false},
		{"x\n", nil, false},
		{EventInput, json.RawMessage(`{broken`), false},
		{EventInput, func() {}, false},
	} {
		err := r.Event(tc.kind, clk.Now().Add(1500*time.Millisecond), tc.data)
		if (err == nil) != tc.ok || (!tc.ok && !errors.Is(err, ErrBadEvent)) {
			t.Errorf("Event(%q, %v) = %v", tc.kind, tc.data, err)
		}
	}
	if r.Err() != nil {
		t.Fatalf("a bad event stopped the recorder: %v", r.Err())
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readSidecar(t, filepath.Join(dir, SidecarName))
	if want := []string{"start", "view_only", "countdown", "end", "stop"}; !slices.Equal(kinds(lines), want) {
		t.Fatalf("kinds %v", kinds(lines))
	}
	if lines[1].MS != 1500 || !lines[1].At.Equal(clk.Now().Add(1500*time.Millisecond)) {
		t.Errorf("line %+v", lines[1])
	}

	root := filepath.Dir(dir)
	if _, err := New(root, "sess_1-A", Options{}); !errors.Is(err, ErrExists) {
		t.Errorf("New on an existing id: %v", err)
	}
	for _, id := range []string{"", "../x", "a/b", ".", "..", "/etc", "x.y"} {
		if _, err := New(root, id, Options{}); !errors.Is(err, ErrBadID) {
			t.Errorf("New(%q): %v", id, err)
		}
	}
}

func TestVP8Keyframe(t *testing.T) {
	frames := encodeFrames(t, 642, 362, 2, 30)
	if k, w, h := vp8Keyframe(frames[0].data); !k || w != 642 || h != 362 {
		t.Errorf("keyframe: %v %dx%d", k, w, h)
	}
	if k, _, _ := vp8Keyframe(frames[1].data); k {
		t.Error("delta frame seen as keyframe")
	}
	for _, b := range [][]byte{nil, {0}, {0, 0, 0, 0x9d, 1, 0x2a, 0, 0, 0, 0}, {0, 0, 0, 1, 2, 3, 4, 5, 6, 7}} {
		if k, _, _ := vp8Keyframe(b); k {
			t.Errorf("%x seen as keyframe", b)
		}
	}
}

// BenchmarkWriteRTP is the cost on the relay's forwarding goroutine.
func BenchmarkWriteRTP(b *testing.B) {
	frames := encodeFrames(b, 1280, 720, 30, 30)
	pkts := flat(newStream(1, 1, 1).packets(frames))
	r, err := New(b.TempDir(), "bench", Options{QueueSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := pkts[i%len(pkts)]
		r.WriteRTP(p)
	}
	b.StopTimer()
	res, _ := r.Close()
	b.ReportMetric(float64(res.Dropped), "dropped")
}

// BenchmarkRecordPipeline is the whole recorder's cost (copy, queue, sample
// builder, WebM write, finish, digest) for 10 s of 720p at 30 fps.
func BenchmarkRecordPipeline(b *testing.B) {
	frames := encodeFrames(b, 1280, 720, 30, 30)
	var all []frame
	for range 10 {
		all = append(all, frames...)
	}
	pkts := flat(newStream(1, 1, 1).packets(all))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r, err := New(b.TempDir(), "bench"+strconv.Itoa(i), Options{QueueSize: len(pkts)})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pkts {
			r.WriteRTP(p)
		}
		res, err := r.Close()
		if err != nil || res.Frames != uint64(len(all)) {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(all)), "ns/frame")
	b.ReportMetric(float64(len(pkts))/float64(len(all)), "pkts/frame")
}

// TestCloseAfterHeadlessTail: the stream ends with a frame whose first
// packet was lost. Close still writes every whole frame and returns at
// once: pion's SampleBuilder.Flush on such a tail walks all 65536 sequence
// slots, scanning the range on each, and held up Close for seconds (tens
// under the race detector), and with it the end of the session.
func TestCloseAfterHeadlessTail(t *testing.T) {
	frames := encodeFrames(t, 640, 480, 30, 30)
	s := newStream(7, 65000, 1) // across the sequence wrap too
	pkts := s.packets(frames)
	tail := s.packets(frames[:1])[0] // a keyframe again: several packets
	if len(tail) < 2 {
		t.Fatalf("the keyframe fits in %d packet; the test needs a frame of several", len(tail))
	}
	r, dir := newRecorder(t, Options{})
	feed(t, r, append(flat(pkts), tail[1:]...))
	waitFrames(t, r, 29)
	start := time.Now()
	res, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %s", d)
	}
	if len(res.Files) != 1 || res.Files[0].Frames != 30 {
		t.Fatalf("files %+v, want one of 30 frames", res.Files)
	}
	recordingtest.Decode(t, filepath.Join(dir, "1.webm"))
}
