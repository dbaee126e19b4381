// Package recording keeps what the broker relays during a support session:
// the agent's VP8, written without transcoding into WebM as it flows, and a
// sidecar of timestamped session events (input, view-only changes, display
// switches, consent, countdown, end) for the auditor's player. It also holds
// the recordings store: files addressed only by id, served with range
// requests, verified against their audited digests and expired by age.
//
// On disk a recording is a directory named by its id under the store root:
//
//	ID/1.webm         video from the first keyframe on
//	ID/2.webm …       a new file after each resolution change, so every file
//	                  plays on its own (players cannot follow a mid-stream
//	                  size change in one WebM track)
//	ID/events.jsonl   one JSON object per line: {"ms","at","kind","data"}
//
// Each event's "ms" counts milliseconds since the recording began (New), on
// the recorder's clock. The recorder writes a "segment" event when a video
// file starts; its "ms" is the time of that file's first frame, so an event
// sits at position (event.ms − segment.ms) in that file.
package recording

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"porthole/internal/clock"
)

// IDPattern is what a recording id must match (the broker's session ids do):
// it can never name a path outside its directory.
const IDPattern = `^[A-Za-z0-9_-]{1,64}$`

var idRE = regexp.MustCompile(IDPattern)

// ValidID reports whether id is a well-formed recording id.
func ValidID(id string) bool { return idRE.MatchString(id) }

// SidecarName is the events file inside a recording's directory.
const SidecarName = "events.jsonl"

// SegmentName is the name of video file n (from 1) inside a recording's directory.
func SegmentName(n int) string { return strconv.Itoa(n) + ".webm" }

// Defaults for Options.
const (
	DefaultQueueSize = 1024
	// DefaultSyncInterval bounds what a machine crash (not a process crash:
	// the page cache survives that) can take from a recording.
	DefaultSyncInterval = 5 * time.Second
)

const (
	// maxLate is how many packets the sample builder holds while waiting for
	// a missing one; a 1080p keyframe can span a few hundred packets.
	maxLate = 1000
	// maxLateTime bounds that wait in media time, so a lost packet on a
	// quiet screen does not hold frames back for long.
	maxLateTime = 500 * time.Millisecond
	// reanchorBackward: an RTP timestamp this far behind the last frame means
	// the sender restarted; the timeline is re-anchored on the clock.
	reanchorBackward = 1000 // ms
	// keyframeRetry: frames skipped while waiting for a keyframe before
	// asking again.
	keyframeRetry = 30
	maxKindLen    = 32
)

// Event kinds the session reports (the caller's) and the recorder writes
// itself (start, segment, video_gap, error, stop).
const (
	EventInput     = "input"     // data: the input message as relayed
	EventViewOnly  = "view_only" // data: {"view_only": bool, "by": user}
	EventDisplay   = "display"   // data: the display switched to
	EventConsent   = "consent"   // data: the end user's answer
	EventCountdown = "countdown" // data: seconds left
	EventEnd       = "end"       // data: the end reason

	EventStart    = "start"     // the recording began; data: {"id"}
	EventSegment  = "segment"   // a video file began; data: {"n","file","width","height"}
	EventVideoGap = "video_gap" // video was lost; frames are skipped until the next keyframe
	EventError    = "error"     // the recorder stopped on a write error; data: {"error"}
	EventStop     = "stop"      // Close; data: the counters
)

var kindRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Options tunes a Recorder; the zero value is usable.
type Options struct {
	// Clock times events and re-anchors the video timeline after a sender
	// restart. Nil means the system clock.
	Clock clock.Clock
	// Logger receives the recorder's log lines. Nil discards.
	Logger *slog.Logger
	// QueueSize is how many packets may wait between WriteRTP and the
	// writer; beyond it packets are dropped and counted. Zero means
	// DefaultQueueSize.
	QueueSize int
	// MaxBytes caps the bytes written for this recording (all files); going
	// past it stops the recorder with ErrDiskFull. Zero means no cap.
	MaxBytes int64
	// SyncInterval is how often written data is fsynced. Zero means
	// DefaultSyncInterval; negative never syncs before Close.
	SyncInterval time.Duration
	// OnError is called once, when the recorder stops on ErrDiskFull or
	// ErrWrite, on the goroutine that hit the error. It must return quickly
	// and must not call Close (start a goroutine for that).
	OnError func(error)
	// RequestKeyframe is called when the recorder needs a keyframe: at the
	// start and after lost video. Wire it to the relay's PLI (which
	// coalesces). It runs on the recorder's goroutine and must not block.
	RequestKeyframe func()

	// create opens a new file for writing; set only by this package's tests
	// to inject write failures.
	create func(root *os.Root, name string) (file, error)
}

// File describes one finished file of a recording, as it goes into the audit
// log and back into Verify.
type File struct {
	Name     string        `json:"name"` // inside the recording's directory: "1.webm", "events.jsonl"
	Path     string        `json:"-"`    // on disk, for the caller's convenience
	Size     int64         `json:"size"`
	SHA256   string        `json:"sha256"`                // hex
	Duration time.Duration `json:"duration_ns,omitempty"` // video only
	Width    int           `json:"width,omitempty"`       // video only
	Height   int           `json:"height,omitempty"`      // video only
	Frames   int           `json:"frames,omitempty"`      // video only
}

// Result is what Close reports for the audit log.
type Result struct {
	ID      string `json:"id"`
	Files   []File `json:"files"` // video files in order; empty if no keyframe ever came
	Sidecar File   `json:"sidecar"`
	Stats
}

// All returns the video files and the sidecar, the list Verify takes.
func (r Result) All() []File { return append(append([]File(nil), r.Files...), r.Sidecar) }

// Stats counts what a Recorder saw.
type Stats struct {
	Packets uint64 `json:"packets"` // RTP packets queued by WriteRTP
	Dropped uint64 `json:"dropped"` // RTP packets dropped because the queue was full
	Frames  uint64 `json:"frames"`  // frames written
	Skipped uint64 `json:"skipped"` // whole frames not written while waiting for a keyframe after loss
	Bytes   int64  `json:"bytes"`   // bytes written, all files
}

// segment is the video file being written. Owned by the worker goroutine.
type segment struct {
	n             int
	name          string
	width, height int
	startT        int64 // recording ms of its first frame
	f             file
	mux           *webmWriter
}

type finished struct {
	n             int
	name          string
	width, height int
	duration      int64 // ms
	frames        int
}

// vp8Head is what the sample builder's head handler extracts from the first
// packet of a frame.
type vp8Head struct {
	pid uint16
	has bool
}

// Recorder records one session. WriteRTP and Event are safe for concurrent
// use with each other and with Close. The Recorder owns its files and its
// goroutine; Close releases them.
type Recorder struct {
	id   string
	dir  string // on disk, for a directory store ("" else)
	b    Backend
	ownB bool // New opened b for this recorder alone: Close closes it
	log  *slog.Logger
	clk  clock.Clock
	opts Options

	origin time.Time
	queue  chan *rtp.Packet
	pool   sync.Pool
	stop   chan struct{}
	done   chan struct{}

	closed  atomic.Bool
	failed  atomic.Bool
	packets atomic.Uint64
	dropped atomic.Uint64
	frames  atomic.Uint64
	skipped atomic.Uint64
	bytes   atomic.Int64

	errMu sync.Mutex // guards err
	err   error

	evMu     sync.Mutex // guards events and evClosed
	events   file
	evClosed bool

	closeOnce sync.Once
	release   func() // set by Store.New before the caller sees r; called by Close
	result    Result
	closeErr  error

	// Owned by the worker goroutine.
	sb            *samplebuilder.SampleBuilder
	ssrc          uint32
	haveSSRC      bool
	seg           *segment
	segs          []finished
	tsExt         int64
	tsInit        bool
	anchorExt     int64
	anchorT       int64
	reanchor      bool
	lastT         int64
	lastInterval  int64
	needKey       bool
	waited        int
	lastHead      vp8Head
	started       bool
	lastSync      time.Time
	askedAtStart  bool
	lastFrameWall time.Time
	lastPktWall   time.Time // when the worker took the previous packet
	streamEnd     time.Time // lastPktWall of the stream before a restart
	// newest is the header of the newest packet (by sequence number) the
	// sample builder holds: flush ends the stream just after it.
	newest     rtp.Header
	haveNewest bool
}

// New starts recording session id into the directory id under root (a
// recordings directory), which must not exist yet. See startRecorder.
func New(root, id string, opts Options) (*Recorder, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("%w: %q", ErrBadID, id)
	}
	d, err := OpenDir(root)
	if err != nil {
		return nil, err
	}
	d.create = opts.create
	if err := d.Create(id); err != nil {
		_ = d.Close()
		return nil, err
	}
	r, err := startRecorder(d, id, opts)
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	r.ownB = true
	return r, nil
}

// startRecorder starts recording session id, already created in b. It writes
// the sidecar's "start" line at once; video begins at the first keyframe
// WriteRTP delivers.
func startRecorder(b Backend, id string, opts Options) (*Recorder, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.SyncInterval == 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	r := &Recorder{
		id:    id,
		b:     b,
		log:   opts.Logger.With("component", "recording", "recording", id),
		clk:   opts.Clock,
		opts:  opts,
		queue: make(chan *rtp.Packet, opts.QueueSize),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		lastT: -1,
	}
	if d, ok := b.(*Dir); ok {
		r.dir = filepath.Join(d.Path(), id)
	}
	r.pool.New = func() any { return &rtp.Packet{Payload: make([]byte, 0, 1500)} }
	r.origin = r.clk.Now()
	r.lastSync = r.origin
	ev, err := b.NewFile(id, SidecarName)
	if err != nil {
		return nil, fmt.Errorf("%w: create sidecar: %w", classify(err), err)
	}
	r.events = ev
	r.sb = r.newBuilder()
	if err := r.Event(EventStart, r.origin, map[string]string{"id": id}); err != nil {
		_ = ev.Close()
		return nil, err
	}
	go r.run()
	return r, nil
}

func (r *Recorder) newBuilder() *samplebuilder.SampleBuilder {
	return samplebuilder.New(maxLate, &codecs.VP8Packet{}, 90000,
		samplebuilder.WithMaxTimeDelay(maxLateTime),
		samplebuilder.WithPacketReleaseHandler(r.recycle),
		samplebuilder.WithPacketHeadHandler(func(d any) any {
			p, ok := d.(*codecs.VP8Packet)
			if !ok || p.I == 0 {
				return vp8Head{}
			}
			return vp8Head{pid: p.PictureID, has: true}
		}))
}

func (r *Recorder) recycle(p *rtp.Packet) {
	p.Payload = p.Payload[:0]
	r.pool.Put(p)
}

// ID returns the recording's id.
func (r *Recorder) ID() string { return r.id }

// Dir returns the recording's directory ("" when the store is not a
// directory).
func (r *Recorder) Dir() string { return r.dir }

// WriteRTP queues a copy of one VP8 RTP packet as relayed. It never blocks:
// when the queue is full the packet is dropped and counted (the recording
// then waits for the next keyframe). pkt may be reused once WriteRTP returns.
func (r *Recorder) WriteRTP(pkt *rtp.Packet) {
	if pkt == nil || r.closed.Load() || r.failed.Load() {
		return
	}
	c, _ := r.pool.Get().(*rtp.Packet)
	if c == nil {
		c = &rtp.Packet{}
	}
	c.Header = rtp.Header{
		Version:        2,
		Marker:         pkt.Marker,
		PayloadType:    pkt.PayloadType,
		SequenceNumber: pkt.SequenceNumber,
		Timestamp:      pkt.Timestamp,
		SSRC:           pkt.SSRC,
	}
	c.Payload = append(c.Payload[:0], pkt.Payload...)
	select {
	case r.queue <- c:
		r.packets.Add(1)
	default:
		r.dropped.Add(1)
		r.recycle(c)
	}
}

// Event appends one line to the sidecar. at is when it happened (the
// recording's timeline position is at − start); data must marshal to JSON
// (a json.RawMessage is written as is). Every line is one write, so a crash
// never leaves half a line. A write failure stops the recorder like a video
// one; a bad kind or data only returns ErrBadEvent.
func (r *Recorder) Event(kind string, at time.Time, data any) error {
	if !kindRE.MatchString(kind) {
		return fmt.Errorf("%w: kind %q", ErrBadEvent, kind)
	}
	line := struct {
		MS   int64     `json:"ms"`
		At   time.Time `json:"at"`
		Kind string    `json:"kind"`
		Data any       `json:"data,omitempty"`
	}{at.Sub(r.origin).Milliseconds(), at.UTC(), kind, data}
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadEvent, kind, err)
	}
	b = append(b, '\n')
	werr := r.writeEvent(b)
	if werr != nil && !errors.Is(werr, ErrClosed) {
		r.fail(werr) // outside evMu: OnError may log an event itself
	}
	return werr
}

func (r *Recorder) writeEvent(b []byte) error {
	r.evMu.Lock()
	defer r.evMu.Unlock()
	if r.evClosed {
		return ErrClosed
	}
	if err := r.Err(); err != nil {
		return err
	}
	if err := r.room(len(b)); err != nil {
		return err
	}
	if _, err := r.events.Write(b); err != nil {
		return fmt.Errorf("%w: sidecar: %w", classify(err), err)
	}
	r.bytes.Add(int64(len(b)))
	return nil
}

// room reserves n bytes of the MaxBytes budget.
func (r *Recorder) room(n int) error {
	if r.opts.MaxBytes > 0 && r.bytes.Load()+int64(n) > r.opts.MaxBytes {
		return fmt.Errorf("%w: recording reached its limit of %d bytes", ErrDiskFull, r.opts.MaxBytes)
	}
	return nil
}

func classify(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return ErrDiskFull
	}
	return ErrWrite
}

// fail records the first error, stops intake and tells the caller once.
func (r *Recorder) fail(err error) {
	r.errMu.Lock()
	if r.err != nil {
		r.errMu.Unlock()
		return
	}
	r.err = err
	r.failed.Store(true)
	r.errMu.Unlock()
	r.log.Error("recording_stopped", "err", err)
	if r.opts.OnError != nil {
		r.opts.OnError(err)
	}
}

// Err returns the error that stopped the recorder (wrapping ErrDiskFull or
// ErrWrite), or nil while it is healthy.
func (r *Recorder) Err() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

// Stats returns the counters so far.
func (r *Recorder) Stats() Stats {
	return Stats{
		Packets: r.packets.Load(),
		Dropped: r.dropped.Load(),
		Frames:  r.frames.Load(),
		Skipped: r.skipped.Load(),
		Bytes:   r.bytes.Load(),
	}
}

// run is the recorder's goroutine: it turns queued packets into frames and
// writes them. On stop it drains the queue, flushes the sample builder and
// finishes the open file.
func (r *Recorder) run() {
	defer close(r.done)
	for {
		select {
		case p := <-r.queue:
			r.push(p)
		case <-r.stop:
			for {
				select {
				case p := <-r.queue:
					r.push(p)
				default:
					r.flush()
					r.finishSegment()
					return
				}
			}
		}
	}
}

func (r *Recorder) push(p *rtp.Packet) {
	if r.failed.Load() {
		r.recycle(p)
		return
	}
	now := r.clk.Now()
	if r.haveSSRC && p.SSRC != r.ssrc {
		r.streamEnd = r.lastPktWall
		// The sender restarted (agent reconnect): finish the old stream's
		// frames and start over on a keyframe, re-anchoring the timeline.
		r.log.Info("recording_new_stream", "ssrc", p.SSRC)
		r.flush()
		r.tsInit = false
		r.reanchor = true
		r.lastHead = vp8Head{}
		if r.started {
			r.needKey = true
		}
	}
	r.ssrc, r.haveSSRC = p.SSRC, true
	r.lastPktWall = now
	if !r.started && !r.askedAtStart {
		r.askedAtStart = true
		r.requestKeyframe()
	}
	if !r.haveNewest || int16(p.SequenceNumber-r.newest.SequenceNumber) > 0 {
		r.newest, r.haveNewest = p.Header, true
	}
	r.sb.Push(p)
	r.pop()
}

func (r *Recorder) pop() {
	for s := r.sb.Pop(); s != nil; s = r.sb.Pop() {
		r.sample(s)
	}
}

// flush writes the frames the sample builder still holds and starts a new
// builder. pion's SampleBuilder.Flush (v4.2.26) has a trap: when the
// packets it purges last are a frame's tail without its head (lost or
// late), it runs past the end of its buffer and walks all 65536 sequence
// slots, scanning the range on each: seconds of CPU, tens of seconds under
// the race detector, which held up Close and with it the session's end.
// So an empty packet that starts a new frame is pushed just after the
// newest first: Flush then always ends on a whole frame. The empty frame
// is skipped like any empty sample.
func (r *Recorder) flush() {
	if r.haveNewest {
		h := r.newest
		h.SequenceNumber++
		h.Timestamp += 90 // 1 ms later: a new frame
		h.Marker = true
		r.sb.Push(&rtp.Packet{Header: h, Payload: []byte{0x10}}) // VP8 descriptor: start of partition, no data
		r.pop()
		r.sb.Flush()
		r.pop()
	}
	r.sb = r.newBuilder()
	r.haveNewest = false
}

func (r *Recorder) requestKeyframe() {
	if r.opts.RequestKeyframe != nil {
		r.opts.RequestKeyframe()
	}
}

// sample handles one complete frame.
func (r *Recorder) sample(s *media.Sample) {
	if r.failed.Load() || len(s.Data) == 0 {
		return
	}
	head, _ := s.Metadata.(vp8Head)
	lost := s.PrevDroppedPackets > 0
	if head.has && r.lastHead.has {
		next := r.lastHead.pid + 1
		if head.pid != next&0x7FFF && head.pid != next&0x7F {
			lost = true
		}
	}
	r.lastHead = head
	ext := r.unwrap(s.PacketTimestamp)

	key, w, h := vp8Keyframe(s.Data)
	if lost && r.started && !r.needKey {
		r.needKey = true
		r.waited = 0
		r.log.Debug("recording_video_gap", "dropped_packets", s.PrevDroppedPackets)
		_ = r.Event(EventVideoGap, r.clk.Now(), nil)
		r.requestKeyframe()
	}
	if !key && (!r.started || r.needKey) {
		if r.started {
			r.skipped.Add(1)
			if r.waited++; r.waited%keyframeRetry == 0 {
				r.requestKeyframe()
			}
		}
		return
	}
	r.needKey = false

	t := r.timeline(ext)
	if key && (r.seg == nil || w != r.seg.width || h != r.seg.height) {
		r.finishSegment()
		if !r.openSegment(t, w, h) {
			return
		}
	}
	rel := t - r.seg.startT
	if err := r.seg.mux.writeFrame(rel, key, s.Data); err != nil {
		r.fail(fmt.Errorf("%w: %s: %w", classifyMux(err), r.seg.name, err))
		return
	}
	r.frames.Add(1)
	r.started = true
	if r.lastT >= 0 && t > r.lastT {
		r.lastInterval = t - r.lastT
	}
	r.lastT = t
	r.lastFrameWall = r.clk.Now()
	if key && r.opts.SyncInterval > 0 && r.lastFrameWall.Sub(r.lastSync) >= r.opts.SyncInterval {
		r.lastSync = r.lastFrameWall
		if err := r.seg.f.Sync(); err != nil {
			r.fail(fmt.Errorf("%w: sync %s: %w", classify(err), r.seg.name, err))
		}
	}
}

func classifyMux(err error) error {
	if errors.Is(err, ErrDiskFull) {
		return ErrDiskFull
	}
	return classify(err)
}

// unwrap extends a 32-bit RTP timestamp to 64 bits.
func (r *Recorder) unwrap(ts uint32) int64 {
	if !r.tsInit {
		r.tsInit = true
		r.tsExt = int64(ts)
		return r.tsExt
	}
	r.tsExt += int64(int32(ts - uint32(r.tsExt)))
	return r.tsExt
}

// timeline maps an unwrapped RTP timestamp to recording milliseconds:
// RTP time from an anchor set on the recorder's clock at the first frame and
// after a sender restart or backward jump, kept strictly increasing.
func (r *Recorder) timeline(ext int64) int64 {
	if !r.started || r.reanchor {
		r.setAnchor(ext)
	}
	t := r.anchorT + (ext-r.anchorExt)/90
	if r.lastT >= 0 && t < r.lastT-reanchorBackward {
		r.setAnchor(ext)
		t = r.anchorT
	}
	if r.lastT >= 0 && t <= r.lastT {
		t = r.lastT + 1
	}
	return t
}

func (r *Recorder) setAnchor(ext int64) {
	r.reanchor = false
	now := r.clk.Now()
	t := now.Sub(r.origin).Milliseconds()
	if r.lastT >= 0 {
		// Continue after the last frame by the time that really passed
		// since the old stream's last packet (its last frame is written
		// only when the new stream flushes it).
		since := r.lastFrameWall
		if !r.streamEnd.IsZero() {
			since, r.streamEnd = r.streamEnd, time.Time{}
		}
		gap := max(now.Sub(since).Milliseconds(), 1)
		t = max(r.lastT+gap, r.lastT+1)
	}
	r.anchorExt, r.anchorT = ext, t
}

func (r *Recorder) openSegment(t int64, w, h int) bool {
	n := len(r.segs) + 1
	name := SegmentName(n)
	f, err := r.b.NewFile(r.id, name)
	if err != nil {
		r.fail(fmt.Errorf("%w: create %s: %w", classify(err), name, err))
		return false
	}
	wall := r.origin.Add(time.Duration(t) * time.Millisecond)
	mux, err := newWebM(f, w, h, wall, r.reserve)
	if err != nil {
		_ = f.Close()
		r.fail(fmt.Errorf("%w: %s header: %w", classifyMux(err), name, err))
		return false
	}
	r.seg = &segment{n: n, name: name, width: w, height: h, startT: t, f: f, mux: mux}
	r.log.Info("recording_segment", "file", name, "width", w, "height", h)
	_ = r.Event(EventSegment, wall, map[string]any{"n": n, "file": name, "width": w, "height": h})
	return true
}

// reserve is the mux's byte budget check; it counts what it allows.
func (r *Recorder) reserve(n int) error {
	if err := r.room(n); err != nil {
		return err
	}
	r.bytes.Add(int64(n))
	return nil
}

// finishSegment finalises the open video file, if any.
func (r *Recorder) finishSegment() {
	s := r.seg
	if s == nil {
		return
	}
	r.seg = nil
	dur := s.mux.lastTs + max(r.lastInterval, 1)
	if s.mux.frames == 0 {
		dur = 0
	}
	if err := s.mux.finish(dur); err != nil && r.Err() == nil {
		r.fail(fmt.Errorf("%w: %s: %w", classify(err), s.name, err))
	}
	if err := s.f.Close(); err != nil && r.Err() == nil {
		r.fail(fmt.Errorf("%w: close %s: %w", classify(err), s.name, err))
	}
	r.segs = append(r.segs, finished{n: s.n, name: s.name, width: s.width, height: s.height,
		duration: dur, frames: s.mux.frames})
}

// Close stops recording: it drains the queue, writes the frames still held,
// finalises the video (Duration, Cues), writes the "stop" line, and returns
// each file's size and SHA-256 for the audit log. The error is the one that
// stopped the recorder, if any; the Result still describes what was kept.
// Close is idempotent.
func (r *Recorder) Close() (Result, error) {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		close(r.stop)
		<-r.done
		st := r.Stats()
		_ = r.Event(EventStop, r.clk.Now(), st)
		r.evMu.Lock()
		r.evClosed = true
		cerr := r.events.Close()
		r.evMu.Unlock()
		if cerr != nil && r.Err() == nil {
			r.fail(fmt.Errorf("%w: close sidecar: %w", classify(cerr), cerr))
		}
		res := Result{ID: r.id, Stats: r.Stats()}
		var herr error
		for _, s := range r.segs {
			f, err := r.digest(s.name)
			if err != nil {
				herr = err
				continue
			}
			f.Duration = time.Duration(s.duration) * time.Millisecond
			f.Width, f.Height, f.Frames = s.width, s.height, s.frames
			res.Files = append(res.Files, f)
		}
		sc, err := r.digest(SidecarName)
		if err != nil {
			herr = err
		}
		res.Sidecar = sc
		if r.ownB {
			_ = r.b.Close()
		}
		if r.release != nil {
			r.release()
		}
		r.result = res
		r.closeErr = r.Err()
		if r.closeErr == nil && herr != nil {
			r.closeErr = herr
		}
	})
	return r.result, r.closeErr
}

func (r *Recorder) digest(name string) (File, error) {
	n, sum, err := digest(r.b, r.id, name)
	if err != nil {
		return File{}, fmt.Errorf("digest %s: %w", name, err)
	}
	f := File{Name: name, Size: n, SHA256: sum}
	if r.dir != "" {
		f.Path = filepath.Join(r.dir, name)
	}
	return f, nil
}
