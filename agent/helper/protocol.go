package helper

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"porthole/internal/wire"
)

// The wire format of the helper pipe (docs/adr/0013-windows-helper.md).
// Every message is a frame:
//
//	length  uint32, big endian: the bytes after it (1 ≤ length ≤ MaxMessage)
//	kind    byte: KindControl or KindVideo
//	payload KindControl: one JSON object, a Msg
//	        KindVideo:   stream uint32, flags byte (1 = keyframe),
//	                     duration uint32 (µs), then the VP8 frame
//
// Both sides decode with ReadMessage, which refuses whatever is not exactly
// this: the pipe is a trust boundary (the helper runs as the user, who can
// replace or drive it), so the service treats every byte from the helper as
// untrusted, like a websocket message from the broker.

// Version is the protocol version both sides send in hello.
const Version = 1

// Frame kinds.
const (
	KindControl byte = 1
	KindVideo   byte = 2
)

// Limits.
const (
	// MaxMessage bounds a frame: a 4K VP8 keyframe at a high bitrate is
	// well under it.
	MaxMessage = 8 << 20
	// maxControl bounds a control message.
	maxControl = 64 << 10
	maxText    = 4096
	maxFields  = 8
	maxDisplay = 16
	maxTimeout = 24 * time.Hour
	videoHead  = 9
)

// Control message types. The direction is checked by the reader.
const (
	// helper → service
	THello         = "hello"          // Version, PID
	TReply         = "reply"          // ID; Err or the call's result
	TIndicatorDone = "indicator_done" // ID of the show call: the user pressed Done
	TVideoEnd      = "video_end"      // Stream ended by the helper; Err says why
	// service → helper
	TDisplays   = "displays"    // call → Displays
	TAsk        = "ask"         // call: Requester, ViewOnly, TimeoutMS → Answer
	TShow       = "show"        // call: Requester, ViewOnly → ok; then indicator_done
	TStop       = "stop"        // ID of a show call: remove the indicator
	TForm       = "form"        // call: Text, Fields, TimeoutMS → Values
	TInfo       = "info"        // call: Text, TimeoutMS → ok
	TVideo      = "video"       // call: Stream, Display, FPS, BitrateKbps, Threads → ok; frames follow
	TKeyframe   = "keyframe"    // Stream: the next frame is a keyframe
	TVideoStop  = "video_stop"  // Stream: stop it
	TInjector   = "injector"    // call: Stream (the injector's id), Displays, ViewOnly → ok
	TInput      = "input"       // Stream, Input (wire.EncodeInput's JSON)
	TViewOnly   = "view_only"   // call: Stream, On → ok
	TInjectStop = "inject_stop" // Stream: close the injector
)

var (
	fromHelper  = map[string]bool{THello: true, TReply: true, TIndicatorDone: true, TVideoEnd: true}
	fromService = map[string]bool{TDisplays: true, TAsk: true, TShow: true, TStop: true, TForm: true, TInfo: true,
		TVideo: true, TKeyframe: true, TVideoStop: true, TInjector: true, TInput: true, TViewOnly: true, TInjectStop: true}
)

// Errors of ReadMessage.
var (
	ErrMalformed = errors.New("helper: malformed message")
	ErrTooLarge  = errors.New("helper: message too large")
	ErrDirection = errors.New("helper: message type not allowed in this direction")
)

// Msg is a control message. Only the fields of its type are set.
type Msg struct {
	T  string `json:"t"`
	ID uint32 `json:"id,omitempty"`
	// Err is a reply's or a video_end's error.
	Err string `json:"err,omitempty"`

	Version int    `json:"version,omitempty"`
	PID     uint32 `json:"pid,omitempty"`

	Displays []wire.Display `json:"displays,omitempty"`
	Display  *wire.Display  `json:"display,omitempty"`
	// Capture is the helper's screen capture method (wire.Inventory's
	// Capture), with its displays.
	Capture string `json:"capture,omitempty"`

	Requester string `json:"requester,omitempty"`
	ViewOnly  bool   `json:"view_only,omitempty"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"`
	Answer    string `json:"answer,omitempty"`

	Text   string   `json:"text,omitempty"`
	Fields []string `json:"fields,omitempty"`
	Values []string `json:"values,omitempty"`

	Stream      uint32          `json:"stream,omitempty"`
	FPS         int             `json:"fps,omitempty"`
	BitrateKbps int             `json:"bitrate_kbps,omitempty"`
	Threads     int             `json:"threads,omitempty"`
	Input       json.RawMessage `json:"input,omitempty"`
	On          bool            `json:"on,omitempty"`
}

// Video is one encoded frame of a stream.
type Video struct {
	Stream   uint32
	Keyframe bool
	Duration time.Duration
	Data     []byte
}

// Answers of an ask reply.
var answers = map[string]bool{"allowed": true, "declined": true, "timed_out": true}

// validate checks m's fields for its type: required ones present and in
// bounds. Fields of other types are ignored by the receiver.
func (m *Msg) validate() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s: %s", ErrMalformed, m.T, why) }
	text := func(s string, max int) bool { return len(s) <= max && utf8.ValidString(s) }
	if !text(m.Err, maxText) || !text(m.Requester, maxText) || !text(m.Text, maxText) {
		return bad("text too long or not UTF-8")
	}
	if m.TimeoutMS < 0 || time.Duration(m.TimeoutMS)*time.Millisecond > maxTimeout {
		return bad("timeout out of range")
	}
	if len(m.Displays) > maxDisplay || len(m.Fields) > maxFields || len(m.Values) > maxFields {
		return bad("too many displays, fields or values")
	}
	for _, s := range append(append([]string(nil), m.Fields...), m.Values...) {
		if !text(s, maxText) {
			return bad("field too long or not UTF-8")
		}
	}
	for _, d := range m.Displays {
		if err := validDisplay(d); err != nil {
			return bad(err.Error())
		}
	}
	if (&wire.Inventory{Capture: m.Capture}).Validate() != nil {
		return bad("capture method not a short name")
	}
	switch m.T {
	case THello:
		if m.Version != Version {
			return bad(fmt.Sprintf("version %d, want %d", m.Version, Version))
		}
	case TReply, TShow, TStop, TForm, TInfo, TAsk, TDisplays, TIndicatorDone:
		if m.ID == 0 {
			return bad("no id")
		}
		if m.T == TReply && m.Answer != "" && !answers[m.Answer] {
			return bad("unknown answer")
		}
		if (m.T == TAsk || m.T == TShow) && m.Requester == "" {
			return bad("no requester")
		}
	case TVideo:
		if m.ID == 0 || m.Stream == 0 || m.Display == nil || m.FPS < 1 || m.FPS > 120 ||
			m.BitrateKbps < 1 || m.BitrateKbps > 100000 || m.Threads < 1 || m.Threads > 16 {
			return bad("stream, display, fps, bitrate or threads out of range")
		}
		if err := validDisplay(*m.Display); err != nil {
			return bad(err.Error())
		}
	case TInjector, TViewOnly:
		if m.ID == 0 || m.Stream == 0 {
			return bad("no id or stream")
		}
	case TKeyframe, TVideoStop, TVideoEnd, TInjectStop:
		if m.Stream == 0 {
			return bad("no stream")
		}
	case TInput:
		if m.Stream == 0 {
			return bad("no stream")
		}
		if _, err := wire.DecodeInput(m.Input); err != nil {
			return bad(err.Error())
		}
	default:
		return bad("unknown type")
	}
	return nil
}

func validDisplay(d wire.Display) error {
	const max = 1 << 16
	if d.Index < 0 || d.Index >= maxDisplay || d.Width < 1 || d.Height < 1 || d.Width > max || d.Height > max ||
		d.X < -max || d.X > max || d.Y < -max || d.Y > max {
		return fmt.Errorf("display %+v out of range", d)
	}
	return nil
}

// ReadMessage reads one frame from r and returns a *Msg or a *Video.
// fromHelper says which side wrote it (the service reads with true). It
// refuses frames over MaxMessage (ErrTooLarge) before reading them, and
// malformed ones (ErrMalformed) or types not sent in that direction
// (ErrDirection). Io errors are returned as they are (io.EOF at a clean
// end).
func ReadMessage(r io.Reader, helperSent bool) (any, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:4]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[:4])
	if n == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	if n > MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	if _, err := io.ReadFull(r, head[4:]); err != nil {
		return nil, unexpected(err)
	}
	body := make([]byte, n-1)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, unexpected(err)
	}
	return decode(head[4], body, helperSent)
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decode is ReadMessage after the framing: the one decoder of messages.
func decode(kind byte, body []byte, helperSent bool) (any, error) {
	switch kind {
	case KindVideo:
		if !helperSent {
			return nil, fmt.Errorf("%w: video from the service", ErrDirection)
		}
		if len(body) < videoHead {
			return nil, fmt.Errorf("%w: video frame of %d bytes", ErrMalformed, len(body))
		}
		v := &Video{Stream: binary.BigEndian.Uint32(body), Duration: time.Duration(binary.BigEndian.Uint32(body[5:])) * time.Microsecond,
			Data: body[videoHead:]}
		switch body[4] {
		case 0:
		case 1:
			v.Keyframe = true
		default:
			return nil, fmt.Errorf("%w: video flags %#x", ErrMalformed, body[4])
		}
		if v.Stream == 0 || len(v.Data) == 0 {
			return nil, fmt.Errorf("%w: video without stream or data", ErrMalformed)
		}
		return v, nil
	case KindControl:
		if len(body) > maxControl {
			return nil, fmt.Errorf("%w: control message of %d bytes", ErrTooLarge, len(body))
		}
		if !utf8.Valid(body) {
			return nil, fmt.Errorf("%w: not UTF-8", ErrMalformed)
		}
		var m Msg
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%w: trailing data", ErrMalformed)
		}
		allowed := fromService
		if helperSent {
			allowed = fromHelper
		}
		if !allowed[m.T] {
			if fromHelper[m.T] || fromService[m.T] {
				return nil, fmt.Errorf("%w: %q", ErrDirection, m.T)
			}
			return nil, fmt.Errorf("%w: unknown type %q", ErrMalformed, m.T)
		}
		if err := m.validate(); err != nil {
			return nil, err
		}
		return &m, nil
	}
	return nil, fmt.Errorf("%w: kind %d", ErrMalformed, kind)
}

// writer serializes whole frames onto one connection.
type writer struct {
	mu sync.Mutex // serializes frames
	w  *bufio.Writer
}

func newWriter(w io.Writer) *writer { return &writer{w: bufio.NewWriterSize(w, 64<<10)} }

// control writes m.
func (w *writer) control(m *Msg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return w.frame(KindControl, nil, b)
}

// video writes one encoded frame.
func (w *writer) video(v Video) error {
	var h [videoHead]byte
	binary.BigEndian.PutUint32(h[:], v.Stream)
	if v.Keyframe {
		h[4] = 1
	}
	us := v.Duration / time.Microsecond
	if us > 1<<32-1 {
		us = 1<<32 - 1
	}
	binary.BigEndian.PutUint32(h[5:], uint32(us))
	return w.frame(KindVideo, h[:], v.Data)
}

func (w *writer) frame(kind byte, head, body []byte) error {
	n := 1 + len(head) + len(body)
	if n > MaxMessage {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var h [5]byte
	binary.BigEndian.PutUint32(h[:], uint32(n))
	h[4] = kind
	w.w.Write(h[:])
	w.w.Write(head)
	w.w.Write(body)
	return w.w.Flush()
}
