package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"porthole/internal/rtcnet"
)

const wait = 10 * time.Second

func newAPI(t *testing.T) *webrtc.API {
	t.Helper()
	api, closer, err := rtcnet.NewAPI(rtcnet.Config{ListenIP: "127.0.0.1", Loopback: true}, nil)
	if err != nil {
		t.Fatalf("NewAPI: %v", err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	return api
}

// broker plays the broker's side of the agent leg: it offers a receive-only VP8
// transceiver and the data channels, and collects the frames it receives.
type broker struct {
	pc     *webrtc.PeerConnection
	input  *webrtc.DataChannel
	frames chan []byte
	ssrc   chan webrtc.SSRC
}

func newBroker(t *testing.T) *broker {
	t.Helper()
	pc, err := newAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	b := &broker{pc: pc, frames: make(chan []byte, 64), ssrc: make(chan webrtc.SSRC, 1)}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	if b.input, err = pc.CreateDataChannel(InputLabel, nil); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		b.ssrc <- tr.SSRC()
		var cur []byte
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			var vp8 codecs.VP8Packet
			payload, err := vp8.Unmarshal(pkt.Payload)
			if err != nil {
				continue
			}
			if vp8.S == 1 {
				cur = nil
			}
			cur = append(cur, payload...)
			if pkt.Marker {
				b.frames <- cur
				cur = nil
			}
		}
	})
	return b
}

func (b *broker) offer(t *testing.T) string {
	t.Helper()
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-g
	return b.pc.LocalDescription().SDP
}

// pair connects a Sender to a test broker and waits until media can flow.
func pair(t *testing.T) (*Sender, *broker) {
	t.Helper()
	b := newBroker(t)
	s, err := New(newAPI(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	answer, err := s.Answer(ctx, b.offer(t))
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	if !strings.Contains(answer, "a=sendonly") || !strings.Contains(answer, "a=candidate:") {
		t.Fatalf("answer lacks a sendonly video section or candidates")
	}
	if _, err := s.Answer(ctx, "second offer"); !errors.Is(err, ErrNegotiate) {
		t.Fatalf("second Answer: %v, want ErrNegotiate", err)
	}
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Connected():
	case <-time.After(wait):
		t.Fatal("Sender did not connect")
	}
	opened := make(chan struct{})
	b.input.OnOpen(func() { close(opened) })
	if b.input.ReadyState() != webrtc.DataChannelStateOpen {
		select {
		case <-opened:
		case <-time.After(wait):
			t.Fatal("input channel did not open")
		}
	}
	return s, b
}

func TestSender(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s, b := pair(t)

	t.Run("frames arrive intact", func(t *testing.T) {
		want := [][]byte{bytes.Repeat([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, 700), []byte("short frame")}
		deadline := time.After(wait)
		// The first frames can precede the broker's SRTP setup; resend until one lands.
		for got := false; !got; {
			if err := s.WriteFrame(want[0], 33*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			select {
			case f := <-b.frames:
				if !bytes.Equal(f, want[0]) {
					t.Fatalf("frame differs: %d bytes, want %d", len(f), len(want[0]))
				}
				got = true
			case <-time.After(50 * time.Millisecond):
			case <-deadline:
				t.Fatal("no frame")
			}
		}
		for len(b.frames) > 0 {
			<-b.frames
		}
		if err := s.WriteFrame(want[1], 33*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case f := <-b.frames:
				if bytes.Equal(f, want[0]) {
					continue // a late copy of the warm-up frame
				}
				if !bytes.Equal(f, want[1]) {
					t.Fatalf("got %q, want %q", f, want[1])
				}
				return
			case <-time.After(wait):
				t.Fatal("second frame lost")
			}
		}
	})

	t.Run("PLI and FIR become one coalesced keyframe request", func(t *testing.T) {
		ssrc := uint32(<-b.ssrc)
		pkts := []rtcp.Packet{
			&rtcp.PictureLossIndication{MediaSSRC: ssrc},
			&rtcp.FullIntraRequest{MediaSSRC: ssrc, FIR: []rtcp.FIREntry{{SSRC: ssrc}}},
			&rtcp.PictureLossIndication{MediaSSRC: ssrc},
		}
		for _, p := range pkts {
			if err := b.pc.WriteRTCP([]rtcp.Packet{p}); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-s.KeyframeRequests():
		case <-time.After(wait):
			t.Fatal("no keyframe request after a PLI/FIR burst")
		}
		time.Sleep(200 * time.Millisecond) // let the rest of the burst arrive, then forget it
		select {
		case <-s.KeyframeRequests():
		default:
		}
		// A FIR on its own re-arms the signal.
		if err := b.pc.WriteRTCP([]rtcp.Packet{pkts[1]}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.KeyframeRequests():
		case <-time.After(wait):
			t.Fatal("no keyframe request after a lone FIR")
		}
	})

	t.Run("input arrives in order and overflow is dropped", func(t *testing.T) {
		const extra = 20
		for i := range inputQueue + extra {
			if err := b.input.SendText(fmt.Sprintf("m%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		// Wait until pion has delivered everything: the queue is full and stays full.
		deadline := time.Now().Add(wait)
		for len(s.Input()) < inputQueue {
			if time.Now().After(deadline) {
				t.Fatalf("only %d messages queued", len(s.Input()))
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		for i := range inputQueue {
			if got, want := string(<-s.Input()), fmt.Sprintf("m%d", i); got != want {
				t.Fatalf("message %d = %q, want %q", i, got, want)
			}
		}
		select {
		case m := <-s.Input():
			t.Fatalf("overflow message %q was kept", m)
		default:
		}
	})

	t.Run("remote close ends the Sender", func(t *testing.T) {
		if err := b.pc.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.Done():
		case <-time.After(wait):
			t.Fatal("Done not closed after the broker closed")
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := s.WriteFrame([]byte{0}, time.Millisecond); !errors.Is(err, ErrClosed) {
			t.Fatalf("WriteFrame after Close: %v, want ErrClosed", err)
		}
	})
}

func TestUnexpectedChannelIsClosed(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	var mu sync.Mutex
	closed := false
	b := newBroker(t)
	other, err := b.pc.CreateDataChannel("files", nil)
	if err != nil {
		t.Fatal(err)
	}
	other.OnClose(func() { mu.Lock(); closed = true; mu.Unlock() })
	s, err := New(newAPI(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	answer, err := s.Answer(ctx, b.offer(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for {
		mu.Lock()
		c := closed
		mu.Unlock()
		if c {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(`the agent kept a data channel not labelled "input"`)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLifecycleErrors(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s, err := New(newAPI(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFrame([]byte{0}, time.Millisecond); !errors.Is(err, ErrNotNegotiated) {
		t.Fatalf("WriteFrame before Answer: %v, want ErrNotNegotiated", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Answer(ctx, "v=0 not an sdp"); !errors.Is(err, ErrNegotiate) {
		t.Fatalf("Answer(garbage): %v, want ErrNegotiate", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done open after Close")
	}
	if _, err := s.Answer(context.Background(), ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("Answer after Close: %v, want ErrClosed", err)
	}
}
