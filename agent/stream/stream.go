// Package stream is the agent's leg of the media path: one pion peer connection that
// answers the broker's offer, sends encoded VP8 frames, turns the broker's keyframe
// requests (PLI/FIR) into a signal for the encoder, and delivers the input messages the
// broker forwards on the "input" data channel.
//
// The agent is always the answerer and never trickles: Answer returns an SDP that
// already holds every candidate.
package stream

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"porthole/internal/rtcnet"
)

// InputLabel is the label of the data channel the broker opens for input events.
const InputLabel = "input"

// inputQueue bounds the input messages waiting for the agent; newer messages are
// dropped when it is full so that pion's SCTP goroutine never blocks on a slow injector.
const inputQueue = 256

// Sender is one agent-side peer connection. Its methods are safe for concurrent use.
// The Sender owns its peer connection; Close releases it.
type Sender struct {
	log *slog.Logger
	pc  *webrtc.PeerConnection

	keyframes chan struct{} // buffered 1: coalesced keyframe requests
	input     chan []byte   // buffered inputQueue
	connected chan struct{} // closed once on the first "connected" state
	done      chan struct{} // closed once when the connection ends or Close is called

	connOnce sync.Once
	doneOnce sync.Once

	mu     sync.Mutex // guards track, closed and wg.Add
	track  *webrtc.TrackLocalStaticSample
	closed bool
	wg     sync.WaitGroup // the RTCP reader

	closeOnce sync.Once
	closeErr  error
}

// New creates the peer connection; nothing is sent until Answer. A nil logger discards.
func New(api *webrtc.API, logger *slog.Logger) (*Sender, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("%w: new peer connection: %w", ErrNegotiate, err)
	}
	s := &Sender{
		log:       logger.With("component", "stream"),
		pc:        pc,
		keyframes: make(chan struct{}, 1),
		input:     make(chan []byte, inputQueue),
		connected: make(chan struct{}),
		done:      make(chan struct{}),
	}
	pc.OnConnectionStateChange(s.onState)
	pc.OnDataChannel(s.onDataChannel)
	return s, nil
}

func (s *Sender) onState(st webrtc.PeerConnectionState) {
	s.log.Debug("peer_state", "state", st.String())
	switch st {
	case webrtc.PeerConnectionStateConnected:
		s.connOnce.Do(func() { close(s.connected) })
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		s.doneOnce.Do(func() { close(s.done) })
	}
}

func (s *Sender) onDataChannel(dc *webrtc.DataChannel) {
	if dc.Label() != InputLabel {
		s.log.Warn("unexpected_data_channel", "label", dc.Label())
		_ = dc.Close()
		return
	}
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		select {
		case s.input <- msg.Data:
		default:
			s.log.Debug("input_dropped", "reason", "queue_full")
		}
	})
}

// Answer answers the broker's offer with a VP8 track and returns the complete answer
// SDP once ICE gathering has finished or ctx ends.
func (s *Sender) Answer(ctx context.Context, offerSDP string) (string, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", ErrClosed
	}
	if s.track != nil {
		s.mu.Unlock()
		return "", fmt.Errorf("%w: already answered", ErrNegotiate)
	}
	track, err := webrtc.NewTrackLocalStaticSample(rtcnet.VP8Codec, "video", "porthole")
	if err != nil {
		s.mu.Unlock()
		return "", fmt.Errorf("%w: track: %w", ErrNegotiate, err)
	}
	sender, err := s.pc.AddTrack(track)
	if err != nil {
		s.mu.Unlock()
		return "", fmt.Errorf("%w: add track: %w", ErrNegotiate, err)
	}
	s.track = track
	s.wg.Add(1)
	s.mu.Unlock()
	go s.readRTCP(sender)

	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}); err != nil {
		return "", fmt.Errorf("%w: set offer: %w", ErrNegotiate, err)
	}
	answer, err := s.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: create answer: %w", ErrNegotiate, err)
	}
	gathered := webrtc.GatheringCompletePromise(s.pc)
	if err := s.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: set answer: %w", ErrNegotiate, err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("%w: gather: %w", ErrNegotiate, ctx.Err())
	case <-s.done:
		return "", ErrClosed
	}
	return s.pc.LocalDescription().SDP, nil
}

// readRTCP turns PLI and FIR into one pending keyframe request.
func (s *Sender) readRTCP(sender *webrtc.RTPSender) {
	defer s.wg.Done()
	rtcnet.DrainRTCP(sender, s.log, func() {
		select {
		case s.keyframes <- struct{}{}:
		default: // one request is already pending
		}
	})
}

// WriteFrame sends one encoded VP8 frame that lasts duration (the RTP timestamp advances
// by it). Frames are sent at once; there is no queue.
func (s *Sender) WriteFrame(frame []byte, duration time.Duration) error {
	s.mu.Lock()
	track, closed := s.track, s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if track == nil {
		return ErrNotNegotiated
	}
	if err := track.WriteSample(media.Sample{Data: frame, Duration: duration}); err != nil {
		return fmt.Errorf("stream: write frame: %w", err)
	}
	return nil
}

// KeyframeRequests signals that the broker asked for a keyframe. It is buffered 1 and
// coalescing: several requests before the encoder looks count as one.
func (s *Sender) KeyframeRequests() <-chan struct{} { return s.keyframes }

// Input delivers the messages arriving on the "input" data channel, in order. Messages
// that arrive while inputQueue of them wait unread are dropped.
func (s *Sender) Input() <-chan []byte { return s.input }

// Connected is closed when the peer connection first reaches "connected".
func (s *Sender) Connected() <-chan struct{} { return s.connected }

// Done is closed when the peer connection fails or closes (the broker ended the
// session, or ICE gave up), or Close was called.
func (s *Sender) Done() <-chan struct{} { return s.done }

// Close closes the peer connection and waits for the Sender's goroutine. It is
// idempotent.
func (s *Sender) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.closeErr = s.pc.Close()
		s.doneOnce.Do(func() { close(s.done) })
		s.wg.Wait()
	})
	return s.closeErr
}
