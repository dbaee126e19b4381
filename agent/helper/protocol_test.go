package helper

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"porthole/internal/wire"
)

func raw(kind byte, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
	return append(append(b, kind), body...)
}

// TestReadMessage: what each side accepts, and what it refuses with which
// error.
func TestReadMessage(t *testing.T) {
	mv, _ := wire.EncodeInput(wire.Input{Kind: wire.InputMove, X: 1, Y: 2})
	for _, tc := range []struct {
		name   string
		in     []byte
		helper bool // written by the helper (read by the service)
		want   error
	}{
		{"hello", raw(KindControl, `{"t":"hello","version":1,"pid":42}`), true, nil},
		{"reply with answer", raw(KindControl, `{"t":"reply","id":3,"answer":"allowed"}`), true, nil},
		{"video frame", append(raw(KindVideo, "\x00\x00\x00\x07\x01\x00\x00\x01\x00")[:0:0], raw(KindVideo, "\x00\x00\x00\x07\x01\x00\x00\x01\x00vp8")...), true, nil},
		{"ask", raw(KindControl, `{"t":"ask","id":1,"requester":"Ann","timeout_ms":60000}`), false, nil},
		{"input", raw(KindControl, `{"t":"input","stream":2,"input":`+string(mv)+`}`), false, nil},
		{"video call", raw(KindControl, `{"t":"video","id":4,"stream":5,"display":{"index":0,"x":0,"y":0,"width":1280,"height":720},"fps":30,"bitrate_kbps":2500,"threads":1}`), false, nil},

		{"empty stream", nil, true, io.EOF},
		{"cut header", []byte{0, 0}, true, io.ErrUnexpectedEOF},
		{"cut body", raw(KindControl, `{"t":"hello","version":1}`)[:10], true, io.ErrUnexpectedEOF},
		{"empty frame", []byte{0, 0, 0, 0}, true, ErrMalformed},
		{"too large", []byte{0x7f, 0, 0, 0, KindVideo}, true, ErrTooLarge},
		{"unknown kind", raw(9, `{}`), true, ErrMalformed},
		{"unknown field", raw(KindControl, `{"t":"hello","version":1,"admin":true}`), true, ErrMalformed},
		{"trailing data", raw(KindControl, `{"t":"hello","version":1}{}`), true, ErrMalformed},
		{"not UTF-8", raw(KindControl, "{\"t\":\"reply\",\"id\":1,\"err\":\"\xff\"}"), true, ErrMalformed},
		{"other version", raw(KindControl, `{"t":"hello","version":2}`), true, ErrMalformed},
		{"unknown type", raw(KindControl, `{"t":"format_disk","id":1}`), true, ErrMalformed},
		{"service message from the helper", raw(KindControl, `{"t":"ask","id":1,"requester":"x"}`), true, ErrDirection},
		{"helper message from the service", raw(KindControl, `{"t":"hello","version":1}`), false, ErrDirection},
		{"video from the service", raw(KindVideo, "\x00\x00\x00\x07\x00\x00\x00\x00\x00x"), false, ErrDirection},
		{"reply without id", raw(KindControl, `{"t":"reply"}`), true, ErrMalformed},
		{"unknown answer", raw(KindControl, `{"t":"reply","id":1,"answer":"yes please"}`), true, ErrMalformed},
		{"ask without requester", raw(KindControl, `{"t":"ask","id":1}`), false, ErrMalformed},
		{"negative timeout", raw(KindControl, `{"t":"ask","id":1,"requester":"x","timeout_ms":-1}`), false, ErrMalformed},
		{"video frame without data", raw(KindVideo, "\x00\x00\x00\x07\x01\x00\x00\x01\x00"), true, ErrMalformed},
		{"video frame flags", raw(KindVideo, "\x00\x00\x00\x07\x03\x00\x00\x01\x00x"), true, ErrMalformed},
		{"video stream 0", raw(KindVideo, "\x00\x00\x00\x00\x01\x00\x00\x01\x00x"), true, ErrMalformed},
		{"bad input", raw(KindControl, `{"t":"input","stream":2,"input":{"v":1,"t":"move","x":-5,"y":2}}`), false, ErrMalformed},
		{"reply with a capture method", raw(KindControl, `{"t":"reply","id":1,"displays":[{"index":0,"x":0,"y":0,"width":64,"height":48}],"capture":"gdi"}`), true, nil},
		{"capture method not a name", raw(KindControl, `{"t":"reply","id":1,"capture":"GDI; rm -rf"}`), true, ErrMalformed},
		{"huge display", raw(KindControl, `{"t":"reply","id":1,"displays":[{"index":0,"x":0,"y":0,"width":9999999,"height":1}]}`), true, ErrMalformed},
		{"video fps 0", raw(KindControl, `{"t":"video","id":4,"stream":5,"display":{"index":0,"x":0,"y":0,"width":64,"height":48},"fps":0,"bitrate_kbps":1,"threads":1}`), false, ErrMalformed},
		{"too many fields", raw(KindControl, `{"t":"form","id":1,"fields":["a","b","c","d","e","f","g","h","i"]}`), false, ErrMalformed},
		{"long text", raw(KindControl, `{"t":"info","id":1,"text":"`+strings.Repeat("x", maxText+1)+`"}`), false, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadMessage(bytes.NewReader(tc.in), tc.helper)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("ReadMessage = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestWriteReadRoundTrip: what the writer writes, the reader reads back.
func TestWriteReadRoundTrip(t *testing.T) {
	v := Video{Stream: 7, Keyframe: true, Duration: 33 * time.Millisecond, Data: []byte("vp8 frame")}
	m, err := ReadMessage(bytes.NewReader(frameBytes(t, func(w *writer) error { return w.video(v) })), true)
	if err != nil {
		t.Fatal(err)
	}
	got := m.(*Video)
	if got.Stream != 7 || !got.Keyframe || got.Duration != v.Duration || string(got.Data) != "vp8 frame" {
		t.Fatalf("read back %+v", got)
	}
	c := &Msg{T: TForm, ID: 9, Text: "Help", Fields: []string{"Name"}, TimeoutMS: 1000}
	m, err = ReadMessage(bytes.NewReader(frameBytes(t, func(w *writer) error { return w.control(c) })), false)
	if err != nil {
		t.Fatal(err)
	}
	if g := m.(*Msg); g.T != TForm || g.ID != 9 || g.Text != "Help" || len(g.Fields) != 1 {
		t.Fatalf("read back %+v", g)
	}
	if err := newWriter(io.Discard).video(Video{Stream: 1, Data: make([]byte, MaxMessage)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized frame written: %v", err)
	}
}

// FuzzReadMessage: the decoder of the helper pipe never panics, and what
// it accepts is within its limits.
func FuzzReadMessage(f *testing.F) {
	mv, _ := wire.EncodeInput(wire.Input{Kind: wire.InputKeyDown, Code: "KeyA"})
	for _, s := range [][]byte{
		raw(KindControl, `{"t":"hello","version":1,"pid":42}`),
		raw(KindControl, `{"t":"reply","id":3,"answer":"allowed","displays":[{"index":0,"x":0,"y":0,"width":64,"height":48}]}`),
		raw(KindControl, `{"t":"indicator_done","id":3}`),
		raw(KindControl, `{"t":"reply","id":3,"displays":[{"index":0,"x":0,"y":0,"width":64,"height":48}],"capture":"dxgi"}`),
		raw(KindControl, `{"t":"video_end","stream":3,"err":"capture failed"}`),
		raw(KindVideo, "\x00\x00\x00\x07\x01\x00\x00\x01\x00vp8"),
		raw(KindControl, `{"t":"ask","id":1,"requester":"Ann","timeout_ms":60000}`),
		raw(KindControl, `{"t":"input","stream":2,"input":`+string(mv)+`}`),
		raw(KindControl, `{"t":"form","id":1,"text":"x","fields":["a"],"timeout_ms":5}`),
		{0, 0, 0, 2, KindControl, '{'},
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, helperSent bool) {
		m, err := ReadMessage(bytes.NewReader(data), helperSent)
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *Video:
			if !helperSent || m.Stream == 0 || len(m.Data) == 0 || len(m.Data) > MaxMessage {
				t.Fatalf("accepted %+v", m)
			}
		case *Msg:
			if helperSent && !fromHelper[m.T] || !helperSent && !fromService[m.T] || len(m.Text) > maxText || len(m.Displays) > maxDisplay {
				t.Fatalf("accepted %+v", m)
			}
		default:
			t.Fatalf("ReadMessage returned %T", m)
		}
	})
}
