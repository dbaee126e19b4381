// Package relay is the broker's half of the media path for one support session: it
// holds two pion peer connections, one to the agent and one to the browser, and relays
// between them without transcoding. VP8 RTP from the agent is forwarded packet by packet
// as it arrives, stamped with a zero playout delay so the browser renders frames at
// once; keyframe requests from the browser go back to the agent; input messages from
// the browser pass a filter the caller sets and go on to the agent.
//
// The broker is the offerer on both legs and does not trickle: each Offer returns an
// SDP with every candidate, and each leg takes exactly one answer.
//
// What the browser page must do with BrowserOffer's SDP: setRemoteDescription(offer),
// createAnswer, setLocalDescription, wait for iceGatheringState "complete" and send
// pc.localDescription.sdp back (no trickle); keep the playout-delay extmap the offer
// carries (browsers do by default); set receiver.jitterBufferTarget = 0 in ontrack;
// and take the "input" data channel from ondatachannel rather than creating one.
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"porthole/internal/rtcnet"
)

// InputLabel is the label of the data channel carrying input on both legs. The broker
// creates it (ordered, reliable: a lost key-up would leave a key stuck on the agent).
const InputLabel = "input"

// Defaults for Options.
const (
	DefaultDisconnectGrace = 5 * time.Second
	DefaultPLIInterval     = 300 * time.Millisecond
)

// receiveMTU bounds one RTP packet read from the agent leg (pion's default receive MTU).
const receiveMTU = 1460

// playoutDelayZero is the playout-delay extension payload with min = max = 0.
var playoutDelayZero = mustPlayoutZero()

func mustPlayoutZero() []byte {
	b, err := rtp.PlayoutDelayExtension{}.Marshal()
	if err != nil { // cannot happen for 0/0; keep the literal as fallback
		return []byte{0, 0, 0}
	}
	return b
}

// Options tunes a Session; the zero value is usable.
type Options struct {
	// DisconnectGrace is how long a leg may stay "disconnected" before the session
	// ends. Zero means DefaultDisconnectGrace.
	DisconnectGrace time.Duration
	// PLIInterval coalesces keyframe requests: at most one PLI goes to the agent per
	// interval. Zero means DefaultPLIInterval.
	PLIInterval time.Duration
	// InputFilter decides which browser input messages reach the agent (view-only
	// sessions refuse everything). Nil drops all input: deny by default.
	InputFilter func(msg []byte) bool
}

// Stats is a snapshot of what a Session relayed.
type Stats struct {
	PacketsForwarded uint64 `json:"packets_forwarded"` // RTP packets written to the browser leg
	BytesForwarded   uint64 `json:"bytes_forwarded"`   // their size as received from the agent
	PLIsReceived     uint64 `json:"plis_received"`     // PLI and FIR packets from the browser
	PLIsForwarded    uint64 `json:"plis_forwarded"`    // PLIs sent to the agent (after coalescing, plus one when the browser connects)
	InputForwarded   uint64 `json:"input_forwarded"`   // input messages sent to the agent
	InputDropped     uint64 `json:"input_dropped"`     // input messages the filter refused
	InputUndelivered uint64 `json:"input_undelivered"` // allowed input messages that could not be sent (agent channel not open)
}

type counters struct {
	packets, bytes, plisIn, plisOut, inFwd, inDrop, inFail atomic.Uint64
}

// leg is what differs between the two peer connections.
type leg struct {
	name                 string
	pc                   *webrtc.PeerConnection
	failed, closed, lost error
	grace                *time.Timer // guarded by Session.mu
	offered, answered    bool        // guarded by Session.mu
}

// Session relays one support session. Its methods are safe for concurrent use. The
// Session owns both peer connections; Close (or the end of a leg) releases them.
type Session struct {
	log   *slog.Logger
	opts  Options
	stats counters

	agent, browser leg
	track          *forwardTrack
	filter         atomic.Pointer[func([]byte) bool]
	tap            atomic.Pointer[func(*rtp.Packet)]
	agentSSRC      atomic.Uint32
	// forwardHook, set only by this package's tests before any offer, sees how long
	// each packet spent between its read from the agent leg and its write to the browser.
	forwardHook func(time.Duration)

	pliMu   sync.Mutex // guards lastPLI
	lastPLI time.Time

	mu      sync.Mutex // guards agentDC, ended, leg grace/offered/answered, and wg.Add
	agentDC *webrtc.DataChannel
	ended   bool
	reason  error
	wg      sync.WaitGroup // forwarder and RTCP reader

	done     chan struct{} // closed when the session ends
	torn     chan struct{} // closed when both PCs are closed and goroutines returned
	endOnce  sync.Once
	closeErr error // set before torn is closed
}

// New creates the two peer connections of one session. A nil logger discards.
func New(api *webrtc.API, logger *slog.Logger, opts Options) (*Session, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.DisconnectGrace <= 0 {
		opts.DisconnectGrace = DefaultDisconnectGrace
	}
	if opts.PLIInterval <= 0 {
		opts.PLIInterval = DefaultPLIInterval
	}
	agentPC, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("%w: agent peer connection: %w", ErrNegotiate, err)
	}
	browserPC, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		_ = agentPC.Close()
		return nil, fmt.Errorf("%w: browser peer connection: %w", ErrNegotiate, err)
	}
	rtpTrack, err := webrtc.NewTrackLocalStaticRTP(rtcnet.VP8Codec, "video", "porthole")
	if err != nil {
		_ = agentPC.Close()
		_ = browserPC.Close()
		return nil, fmt.Errorf("%w: track: %w", ErrNegotiate, err)
	}
	s := &Session{
		log:   logger.With("component", "relay"),
		opts:  opts,
		track: &forwardTrack{TrackLocalStaticRTP: rtpTrack},
		agent: leg{name: "agent", pc: agentPC,
			failed: ErrAgentFailed, closed: ErrAgentClosed, lost: ErrAgentLost},
		browser: leg{name: "browser", pc: browserPC,
			failed: ErrBrowserFailed, closed: ErrBrowserClosed, lost: ErrBrowserLost},
		done: make(chan struct{}),
		torn: make(chan struct{}),
	}
	if opts.InputFilter != nil {
		s.SetInputFilter(opts.InputFilter)
	}
	agentPC.OnConnectionStateChange(func(st webrtc.PeerConnectionState) { s.onLegState(&s.agent, st) })
	browserPC.OnConnectionStateChange(func(st webrtc.PeerConnectionState) { s.onLegState(&s.browser, st) })
	agentPC.OnTrack(s.onAgentTrack)
	return s, nil
}

// SetInputFilter replaces the input filter; nil drops all input.
func (s *Session) SetInputFilter(f func(msg []byte) bool) {
	if f == nil {
		s.filter.Store(nil)
		return
	}
	s.filter.Store(&f)
}

// SetTap makes f see every RTP packet relayed to the browser, after it was
// written there, so the forward path never waits for it (what arrives before
// the browser leg is up is not relayed, and not tapped). f runs on the forwarding goroutine, must
// not block and must not keep pkt after it returns (the recorder copies it
// into its own queue). Nil removes the tap.
func (s *Session) SetTap(f func(pkt *rtp.Packet)) {
	if f == nil {
		s.tap.Store(nil)
		return
	}
	s.tap.Store(&f)
}

// RequestKeyframe asks the agent for a keyframe (a coalesced PLI), for a
// consumer of the tap that lost video or is starting.
func (s *Session) RequestKeyframe() { s.requestKeyframe(false) }

// AgentOffer builds the offer for the agent leg: a receive-only VP8 transceiver and the
// "input" data channel. It returns once ICE gathering is complete or ctx ends.
func (s *Session) AgentOffer(ctx context.Context) (string, error) {
	if err := s.markOffered(&s.agent); err != nil {
		return "", err
	}
	pc := s.agent.pc
	_, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	if err != nil {
		return "", fmt.Errorf("%w: agent transceiver: %w", ErrNegotiate, err)
	}
	dc, err := pc.CreateDataChannel(InputLabel, &webrtc.DataChannelInit{Ordered: ptr(true)})
	if err != nil {
		return "", fmt.Errorf("%w: agent data channel: %w", ErrNegotiate, err)
	}
	s.mu.Lock()
	s.agentDC = dc
	s.mu.Unlock()
	return s.offer(ctx, &s.agent)
}

// AgentAnswer applies the agent's answer.
func (s *Session) AgentAnswer(sdp string) error { return s.answer(&s.agent, sdp) }

// BrowserOffer builds the offer for the browser leg: a send-only VP8 track fed from the
// agent and the "input" data channel. It returns once ICE gathering is complete or ctx
// ends.
func (s *Session) BrowserOffer(ctx context.Context) (string, error) {
	if err := s.markOffered(&s.browser); err != nil {
		return "", err
	}
	pc := s.browser.pc
	tr, err := pc.AddTransceiverFromTrack(s.track,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return "", fmt.Errorf("%w: browser transceiver: %w", ErrNegotiate, err)
	}
	dc, err := pc.CreateDataChannel(InputLabel, &webrtc.DataChannelInit{Ordered: ptr(true)})
	if err != nil {
		return "", fmt.Errorf("%w: browser data channel: %w", ErrNegotiate, err)
	}
	dc.OnMessage(s.onBrowserInput)
	if !s.spawn(func() { s.readBrowserRTCP(tr.Sender()) }) {
		return "", ErrState
	}
	return s.offer(ctx, &s.browser)
}

// BrowserAnswer applies the browser's answer.
func (s *Session) BrowserAnswer(sdp string) error { return s.answer(&s.browser, sdp) }

func (s *Session) markOffered(l *leg) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return fmt.Errorf("%w: session ended", ErrState)
	}
	if l.offered {
		return fmt.Errorf("%w: %s leg already offered", ErrState, l.name)
	}
	l.offered = true
	return nil
}

func (s *Session) offer(ctx context.Context, l *leg) (string, error) {
	offer, err := l.pc.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %s offer: %w", ErrNegotiate, l.name, err)
	}
	gathered := webrtc.GatheringCompletePromise(l.pc)
	if err := l.pc.SetLocalDescription(offer); err != nil {
		return "", fmt.Errorf("%w: %s set offer: %w", ErrNegotiate, l.name, err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("%w: %s gather: %w", ErrNegotiate, l.name, ctx.Err())
	case <-s.done:
		return "", fmt.Errorf("%w: session ended", ErrState)
	}
	return l.pc.LocalDescription().SDP, nil
}

func (s *Session) answer(l *leg, sdp string) error {
	s.mu.Lock()
	switch {
	case s.ended:
		s.mu.Unlock()
		return fmt.Errorf("%w: session ended", ErrState)
	case !l.offered || l.answered:
		s.mu.Unlock()
		return fmt.Errorf("%w: %s answer without pending offer", ErrState, l.name)
	}
	l.answered = true
	s.mu.Unlock()
	err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	if err != nil {
		return fmt.Errorf("%w: %s answer: %w", ErrNegotiate, l.name, err)
	}
	return nil
}

// spawn starts fn as a tracked goroutine unless the session is ending.
func (s *Session) spawn(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

func (s *Session) onLegState(l *leg, st webrtc.PeerConnectionState) {
	s.log.Debug("leg_state", "leg", l.name, "state", st.String())
	switch st {
	case webrtc.PeerConnectionStateConnected:
		s.mu.Lock()
		if l.grace != nil {
			l.grace.Stop()
			l.grace = nil
		}
		s.mu.Unlock()
		if l == &s.browser {
			// The browser cannot decode until it sees a keyframe; ask now instead of
			// waiting for its own PLI.
			s.requestKeyframe(true)
		}
	case webrtc.PeerConnectionStateDisconnected:
		s.mu.Lock()
		if l.grace == nil && !s.ended {
			reason := l.lost
			l.grace = time.AfterFunc(s.opts.DisconnectGrace, func() { s.finish(reason) })
		}
		s.mu.Unlock()
	case webrtc.PeerConnectionStateFailed:
		s.finish(l.failed)
	case webrtc.PeerConnectionStateClosed:
		s.finish(l.closed)
	}
}

func (s *Session) onAgentTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	if remote.Kind() != webrtc.RTPCodecTypeVideo {
		return
	}
	s.agentSSRC.Store(uint32(remote.SSRC()))
	s.spawn(func() { s.forward(remote) })
}

// forward copies every RTP packet from the agent to the browser track as it arrives,
// replacing the agent leg's header extensions (their IDs belong to that leg) with the
// playout-delay extension under the ID the browser leg negotiated.
func (s *Session) forward(remote *webrtc.TrackRemote) {
	buf := make([]byte, receiveMTU)
	var pkt rtp.Packet
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			s.log.Debug("forward_end", "err", err)
			return
		}
		var start time.Time
		if s.forwardHook != nil {
			start = time.Now()
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			s.log.Debug("forward_bad_packet", "err", err)
			continue
		}
		pkt.Extension = false
		pkt.ExtensionProfile = 0
		pkt.Extensions = pkt.Extensions[:0]
		id := s.track.extID.Load()
		if id != 0 {
			if err := pkt.SetExtension(uint8(id), playoutDelayZero); err != nil {
				s.log.Debug("forward_extension", "err", err)
			}
		}
		if !s.track.bound.Load() {
			continue
		}
		if err := s.track.WriteRTP(&pkt); err != nil {
			if errors.Is(err, io.ErrClosedPipe) {
				return
			}
			s.log.Debug("forward_write", "err", err)
		} else {
			s.stats.packets.Add(1)
			s.stats.bytes.Add(uint64(n))
			if s.forwardHook != nil {
				s.forwardHook(time.Since(start))
			}
		}
		if tap := s.tap.Load(); tap != nil {
			(*tap)(&pkt)
		}
	}
}

// readBrowserRTCP turns the browser's PLI and FIR into a PLI for the agent.
func (s *Session) readBrowserRTCP(sender *webrtc.RTPSender) {
	rtcnet.DrainRTCP(sender, s.log, func() {
		s.stats.plisIn.Add(1)
		s.requestKeyframe(false)
	})
}

// requestKeyframe sends a PLI to the agent unless one went out less than PLIInterval
// ago; force skips that check. Before the agent's track is known there is nothing to
// ask: the agent starts with a keyframe anyway.
func (s *Session) requestKeyframe(force bool) {
	ssrc := s.agentSSRC.Load()
	if ssrc == 0 {
		return
	}
	s.pliMu.Lock()
	now := time.Now()
	if !force && !s.lastPLI.IsZero() && now.Sub(s.lastPLI) < s.opts.PLIInterval {
		s.pliMu.Unlock()
		return
	}
	s.lastPLI = now
	s.pliMu.Unlock()
	err := s.agent.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	if err != nil {
		s.log.Debug("pli_write", "err", err)
		return
	}
	s.stats.plisOut.Add(1)
}

func (s *Session) onBrowserInput(msg webrtc.DataChannelMessage) {
	f := s.filter.Load()
	if f == nil || !(*f)(msg.Data) {
		s.stats.inDrop.Add(1)
		return
	}
	s.mu.Lock()
	dc := s.agentDC
	s.mu.Unlock()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		s.stats.inFail.Add(1)
		return
	}
	var err error
	if msg.IsString {
		err = dc.SendText(string(msg.Data))
	} else {
		err = dc.Send(msg.Data)
	}
	if err != nil {
		s.stats.inFail.Add(1)
		s.log.Debug("input_send", "err", err)
		return
	}
	s.stats.inFwd.Add(1)
}

// finish ends the session once with reason and tears it down in the background.
func (s *Session) finish(reason error) {
	s.endOnce.Do(func() {
		s.mu.Lock()
		s.ended = true
		s.reason = reason
		for _, l := range []*leg{&s.agent, &s.browser} {
			if l.grace != nil {
				l.grace.Stop()
				l.grace = nil
			}
		}
		s.mu.Unlock()
		s.log.Info("session_end", "reason", reason.Error())
		close(s.done)
		// Closing a peer connection from inside one of its own callbacks can wait on
		// that callback, so the teardown runs on its own goroutine.
		go s.teardown()
	})
}

func (s *Session) teardown() {
	errA := s.agent.pc.Close()
	errB := s.browser.pc.Close()
	s.wg.Wait()
	s.closeErr = errors.Join(errA, errB)
	close(s.torn)
}

// Done is closed when the session ends, whatever the reason.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended (ErrClosed, ErrAgentFailed, ErrBrowserLost…), or
// nil while it runs.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// Close ends the session (reason ErrClosed unless it had already ended), closes both
// peer connections and waits for every goroutine of the session. It is idempotent.
func (s *Session) Close() error {
	s.finish(ErrClosed)
	<-s.torn
	return s.closeErr
}

// Stats returns a snapshot of the session's counters.
func (s *Session) Stats() Stats {
	return Stats{
		PacketsForwarded: s.stats.packets.Load(),
		BytesForwarded:   s.stats.bytes.Load(),
		PLIsReceived:     s.stats.plisIn.Load(),
		PLIsForwarded:    s.stats.plisOut.Load(),
		InputForwarded:   s.stats.inFwd.Load(),
		InputDropped:     s.stats.inDrop.Load(),
		InputUndelivered: s.stats.inFail.Load(),
	}
}

// forwardTrack is the browser leg's track. It learns, when pion binds it to the
// negotiated sender, which header extension ID the browser gave playout-delay.
type forwardTrack struct {
	*webrtc.TrackLocalStaticRTP
	extID atomic.Uint32 // 0 until bound with playout-delay negotiated
	bound atomic.Bool
}

// Bind records the negotiated playout-delay ID and binds the underlying track.
func (t *forwardTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, ext := range ctx.HeaderExtensions() {
		if ext.URI == rtcnet.PlayoutDelayURI {
			t.extID.Store(uint32(ext.ID))
		}
	}
	p, err := t.TrackLocalStaticRTP.Bind(ctx)
	if err == nil {
		t.bound.Store(true)
	}
	return p, err
}

// Unbind stops forwarding to the sender.
func (t *forwardTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.bound.Store(false)
	return t.TrackLocalStaticRTP.Unbind(ctx)
}

func ptr[T any](v T) *T { return &v }
