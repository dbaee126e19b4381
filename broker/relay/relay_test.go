package relay

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"porthole/agent/stream"
	"porthole/internal/rtcnet"
)

const wait = 10 * time.Second

// newAPI opens an API on 127.0.0.1 and closes it when the test ends.
func newAPI(t *testing.T) *webrtc.API {
	t.Helper()
	api, _ := newAPICloser(t)
	return api
}

// newAPICloser is newAPI that also hands out the closer of the API's sockets.
func newAPICloser(t *testing.T) (*webrtc.API, io.Closer) {
	t.Helper()
	api, closer, err := rtcnet.NewAPI(rtcnet.Config{ListenIP: "127.0.0.1", Loopback: true}, nil)
	if err != nil {
		t.Fatalf("NewAPI: %v", err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	return api, closer
}

// frame is one reassembled VP8 frame as the browser saw it.
type frame struct {
	data    []byte
	arrived time.Time
}

// browserPeer plays the browser: it answers the broker's offer, reassembles VP8 frames
// from RTP, checks the playout-delay extension on every packet and exposes the input
// data channel.
type browserPeer struct {
	pc     *webrtc.PeerConnection
	frames chan frame

	mu          sync.Mutex // guards the fields below
	ssrc        webrtc.SSRC
	withDelay0  int // packets carrying playout-delay min=max=0
	withoutExt  int // packets missing it or carrying another value
	inputDC     *webrtc.DataChannel
	readerDone  chan struct{}
	connectedCh chan struct{}
	dcOpen      chan struct{}
}

func newBrowser(t *testing.T, api *webrtc.API) *browserPeer {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatalf("browser pc: %v", err)
	}
	b := &browserPeer{pc: pc, frames: make(chan frame, 1024), readerDone: make(chan struct{}),
		connectedCh: make(chan struct{}), dcOpen: make(chan struct{})}
	var once, dcOnce sync.Once
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(b.connectedCh) })
		}
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() != InputLabel {
			return
		}
		b.mu.Lock()
		b.inputDC = dc
		b.mu.Unlock()
		dc.OnOpen(func() { dcOnce.Do(func() { close(b.dcOpen) }) })
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) {
		defer close(b.readerDone)
		b.mu.Lock()
		b.ssrc = tr.SSRC()
		b.mu.Unlock()
		var extID uint8
		for _, e := range rcv.GetParameters().HeaderExtensions {
			if e.URI == rtcnet.PlayoutDelayURI {
				extID = uint8(e.ID)
			}
		}
		b.read(tr, extID)
	})
	t.Cleanup(func() {
		_ = pc.Close()
	})
	return b
}

// read reassembles frames: packets of one timestamp, in sequence order, from the one with
// the VP8 start bit to the one with the RTP marker. Loopback delivers in order.
func (b *browserPeer) read(tr *webrtc.TrackRemote, extID uint8) {
	var cur []byte
	var curTS uint32
	started := false
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		ok := false
		if extID != 0 {
			if raw := pkt.GetExtension(extID); raw != nil {
				var pd rtp.PlayoutDelayExtension
				ok = pd.Unmarshal(raw) == nil && pd.MinDelay == 0 && pd.MaxDelay == 0
			}
		}
		b.mu.Lock()
		if ok {
			b.withDelay0++
		} else {
			b.withoutExt++
		}
		b.mu.Unlock()
		var vp8 codecs.VP8Packet
		payload, err := vp8.Unmarshal(pkt.Payload)
		if err != nil {
			continue
		}
		if vp8.S == 1 && vp8.PID == 0 {
			cur, curTS, started = append([]byte(nil), payload...), pkt.Timestamp, true
		} else if started && pkt.Timestamp == curTS {
			cur = append(cur, payload...)
		} else {
			started = false
			continue
		}
		if pkt.Marker && started {
			select {
			case b.frames <- frame{data: cur, arrived: now}:
			default:
			}
			started = false
		}
	}
}

func (b *browserPeer) answer(t *testing.T, offer string) string {
	t.Helper()
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatalf("browser set offer: %v", err)
	}
	ans, err := b.pc.CreateAnswer(nil)
	if err != nil {
		t.Fatalf("browser answer: %v", err)
	}
	g := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(ans); err != nil {
		t.Fatalf("browser set answer: %v", err)
	}
	<-g
	return b.pc.LocalDescription().SDP
}

func (b *browserPeer) extCounts() (zero, other int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.withDelay0, b.withoutExt
}

// rig is one session wired end to end: agent Sender → relay Session → browser peer.
type rig struct {
	sess    *Session
	agent   *stream.Sender
	browser *browserPeer
	offer   string // the browser leg's offer, for candidate checks
	// agentNet closes the agent's sockets: the broker then hears nothing from it.
	agentNet io.Closer
}

func connect(t *testing.T, brokerAPI *webrtc.API, opts Options) *rig {
	t.Helper()
	return connectWith(t, brokerAPI, opts, nil)
}

// connectWith is connect with a chance to adjust the Session before any offer.
func connectWith(t *testing.T, brokerAPI *webrtc.API, opts Options, adjust func(*Session)) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	sess, err := New(brokerAPI, nil, opts)
	if err != nil {
		t.Fatalf("relay.New: %v", err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	if adjust != nil {
		adjust(sess)
	}
	agentAPI, agentNet := newAPICloser(t)
	agent, err := stream.New(agentAPI, nil)
	if err != nil {
		t.Fatalf("stream.New: %v", err)
	}
	t.Cleanup(func() { _ = agent.Close() })

	aOffer, err := sess.AgentOffer(ctx)
	if err != nil {
		t.Fatalf("AgentOffer: %v", err)
	}
	aAnswer, err := agent.Answer(ctx, aOffer)
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	if err := sess.AgentAnswer(aAnswer); err != nil {
		t.Fatalf("AgentAnswer: %v", err)
	}
	browser := newBrowser(t, newAPI(t))
	bOffer, err := sess.BrowserOffer(ctx)
	if err != nil {
		t.Fatalf("BrowserOffer: %v", err)
	}
	if err := sess.BrowserAnswer(browser.answer(t, bOffer)); err != nil {
		t.Fatalf("BrowserAnswer: %v", err)
	}
	for name, ch := range map[string]<-chan struct{}{"agent": agent.Connected(), "browser": browser.connectedCh} {
		select {
		case <-ch:
		case <-time.After(wait):
			t.Fatalf("%s leg did not connect", name)
		}
	}
	return &rig{sess: sess, agent: agent, browser: browser, offer: bOffer, agentNet: agentNet}
}

// keyframe returns a VP8 keyframe-shaped payload of n bytes (frame tag with the key bit
// clear, start code, 640x480) whose body is random.
func keyframe(t *testing.T, n int) []byte {
	t.Helper()
	f := make([]byte, n)
	if _, err := rand.Read(f); err != nil {
		t.Fatal(err)
	}
	first := uint32(n - 10)
	tag := first<<5 | 1<<4 // key frame (bit 0 = 0), version 0, show_frame
	f[0], f[1], f[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	copy(f[3:], []byte{0x9d, 0x01, 0x2a, 640 & 0xff, 640 >> 8, 480 & 0xff, 480 >> 8})
	return f
}

// warmUp writes frames until the browser receives one, so that both legs are bound.
func warmUp(t *testing.T, r *rig) {
	t.Helper()
	deadline := time.After(wait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := r.agent.WriteFrame(keyframe(t, 200), 33*time.Millisecond); err != nil {
			t.Fatalf("WriteFrame: %v", err)
		}
		select {
		case <-r.browser.frames:
			// Let in-flight warm-up frames land, then forget them.
			time.Sleep(100 * time.Millisecond)
			for len(r.browser.frames) > 0 {
				<-r.browser.frames
			}
			return
		case <-tick.C:
		case <-deadline:
			t.Fatal("no frame reached the browser")
		}
	}
}

func TestRelayEndToEnd(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // registered first, so it runs after every other cleanup
	allow := func(msg []byte) bool { return !bytes.HasPrefix(msg, []byte("deny")) }
	r := connect(t, newAPI(t), Options{PLIInterval: 50 * time.Millisecond, InputFilter: allow})
	warmUp(t, r)

	t.Run("frames arrive byte-identical with playout delay 0", func(t *testing.T) {
		sizes := []int{100, 1199, 1200, 3000, 9000, 40}
		var sent [][]byte
		for _, n := range sizes {
			f := keyframe(t, n)
			sent = append(sent, f)
			if err := r.agent.WriteFrame(f, 33*time.Millisecond); err != nil {
				t.Fatalf("WriteFrame(%d bytes): %v", n, err)
			}
		}
		for i, want := range sent {
			select {
			case got := <-r.browser.frames:
				if !bytes.Equal(got.data, want) {
					t.Fatalf("frame %d: got %d bytes, want %d bytes (identical)", i, len(got.data), len(want))
				}
			case <-time.After(wait):
				t.Fatalf("frame %d of %d did not arrive", i, len(sent))
			}
		}
		zero, other := r.browser.extCounts()
		if zero == 0 || other != 0 {
			t.Fatalf("playout-delay 0/0 on %d packets, missing or different on %d; want all", zero, other)
		}
		waitFor(t, "forwarding counters", func() bool {
			st := r.sess.Stats()
			return st.PacketsForwarded >= uint64(zero) && st.BytesForwarded > 0
		})
	})

	t.Run("browser PLI reaches the agent", func(t *testing.T) {
		time.Sleep(100 * time.Millisecond) // past the coalescing window of the connect PLI
		select {
		case <-r.agent.KeyframeRequests():
		default:
		}
		before := r.sess.Stats()
		r.browser.mu.Lock()
		ssrc := r.browser.ssrc
		r.browser.mu.Unlock()
		if err := r.browser.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(ssrc)}}); err != nil {
			t.Fatalf("WriteRTCP: %v", err)
		}
		select {
		case <-r.agent.KeyframeRequests():
		case <-time.After(wait):
			t.Fatal("PLI did not reach the agent")
		}
		// The counter moves after WriteRTCP returns, which may trail the agent's read.
		waitFor(t, "PLI counters", func() bool {
			after := r.sess.Stats()
			return after.PLIsReceived == before.PLIsReceived+1 && after.PLIsForwarded == before.PLIsForwarded+1
		})
	})

	t.Run("input passes the filter", func(t *testing.T) {
		select {
		case <-r.browser.dcOpen:
		case <-time.After(wait):
			t.Fatal("browser input channel did not open")
		}
		r.browser.mu.Lock()
		dc := r.browser.inputDC
		r.browser.mu.Unlock()
		// The agent leg's channel opens on its own schedule: probe until it delivers.
		probeDeadline := time.Now().Add(wait)
	probe:
		for {
			if err := dc.SendText("probe"); err != nil {
				t.Fatalf("send probe: %v", err)
			}
			select {
			case <-r.agent.Input():
				break probe
			case <-time.After(50 * time.Millisecond):
				if time.Now().After(probeDeadline) {
					t.Fatal("input never reached the agent")
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
		for len(r.agent.Input()) > 0 {
			<-r.agent.Input()
		}
		before := r.sess.Stats()
		for _, m := range []string{"key a", "deny 1", "key b", "deny 2", "key c"} {
			if err := dc.Send([]byte(m)); err != nil {
				t.Fatalf("send %q: %v", m, err)
			}
		}
		var got []string
		for len(got) < 3 {
			select {
			case m := <-r.agent.Input():
				got = append(got, string(m))
			case <-time.After(wait):
				t.Fatalf("agent got %q, want 3 messages", got)
			}
		}
		if want := []string{"key a", "key b", "key c"}; !slices.Equal(got, want) {
			t.Fatalf("agent got %q, want %q", got, want)
		}
		waitFor(t, "dropped count", func() bool { return r.sess.Stats().InputDropped == before.InputDropped+2 })
		if st := r.sess.Stats(); st.InputForwarded != before.InputForwarded+3 {
			t.Fatalf("InputForwarded %d, want %d", st.InputForwarded, before.InputForwarded+3)
		}

		r.sess.SetInputFilter(nil) // deny by default
		if err := dc.SendText("key d"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "nil filter drop", func() bool { return r.sess.Stats().InputDropped == before.InputDropped+3 })
		select {
		case m := <-r.agent.Input():
			t.Fatalf("agent got %q through a nil filter", m)
		case <-time.After(200 * time.Millisecond):
		}
	})

	t.Run("closing the browser leg ends the session", func(t *testing.T) {
		if err := r.browser.pc.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-r.sess.Done():
		case <-time.After(wait):
			t.Fatal("session did not end")
		}
		if err := r.sess.Err(); !errors.Is(err, ErrBrowserClosed) {
			t.Fatalf("Err() = %v, want ErrBrowserClosed", err)
		}
		select {
		case <-r.agent.Done():
		case <-time.After(wait):
			t.Fatal("agent leg did not end after the session")
		}
		if err := r.sess.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := r.sess.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := r.sess.Err(); !errors.Is(err, ErrBrowserClosed) {
			t.Fatalf("Err() after Close = %v, want ErrBrowserClosed still", err)
		}
		if _, err := r.sess.BrowserOffer(context.Background()); !errors.Is(err, ErrState) {
			t.Fatalf("BrowserOffer after end: %v, want ErrState", err)
		}
	})
}

func TestCloseByBroker(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // registered first, so it runs after every other cleanup
	r := connect(t, newAPI(t), Options{})
	if err := r.sess.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.sess.Err(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Err() = %v, want ErrClosed", err)
	}
	for name, ch := range map[string]<-chan struct{}{"agent": r.agent.Done()} {
		select {
		case <-ch:
		case <-time.After(wait):
			t.Fatalf("%s did not see the close", name)
		}
	}
}

// TestSilentAgentEndsAfterGrace cuts the agent's network without any goodbye: ICE on the
// broker goes "disconnected" (pion's 5 s timeout) and the grace period then ends the
// session.
func TestSilentAgentEndsAfterGrace(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	r := connect(t, newAPI(t), Options{DisconnectGrace: 200 * time.Millisecond})
	if err := r.agentNet.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.sess.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("session still up 15 s after the agent went silent")
	}
	if err := r.sess.Err(); !errors.Is(err, ErrAgentLost) {
		t.Fatalf("Err() = %v, want ErrAgentLost", err)
	}
}

func TestPLICoalescing(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // registered first, so it runs after every other cleanup
	r := connect(t, newAPI(t), Options{PLIInterval: time.Hour})
	warmUp(t, r)
	r.browser.mu.Lock()
	ssrc := r.browser.ssrc
	r.browser.mu.Unlock()
	before := r.sess.Stats()
	for range 4 {
		if err := r.browser.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(ssrc)}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "4 PLIs received", func() bool { return r.sess.Stats().PLIsReceived == before.PLIsReceived+4 })
	// Within one window only one PLI may reach the agent: either the one sent when the
	// browser connected (if the agent's track was known by then) or the first of these.
	if got := r.sess.Stats().PLIsForwarded; got != 1 {
		t.Fatalf("PLIsForwarded = %d after 4 PLIs inside one window, want 1", got)
	}
}

func TestOneUDPPortServesTwoSessions(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // registered first, so it runs after every other cleanup
	broker := newAPI(t)
	r1 := connect(t, broker, Options{})
	r2 := connect(t, broker, Options{})
	p1, p2 := candidatePorts(t, r1.offer), candidatePorts(t, r2.offer)
	if len(p1) != 1 || len(p2) != 1 || p1[0] != p2[0] {
		t.Fatalf("browser-leg candidate ports %v and %v, want one shared port", p1, p2)
	}
	for i, r := range []*rig{r1, r2} {
		warmUp(t, r)
		want := keyframe(t, 2500)
		if err := r.agent.WriteFrame(want, 33*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-r.browser.frames:
			if !bytes.Equal(got.data, want) {
				t.Fatalf("session %d: frame differs", i)
			}
		case <-time.After(wait):
			t.Fatalf("session %d: no frame", i)
		}
	}
}

// TestForwardLatency measures how long the relay holds each packet (read from the agent
// leg to written on the browser leg) and the end-to-end time from WriteFrame to the
// browser's reassembled frame, over loopback, for single-packet frames.
func TestForwardLatency(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // registered first, so it runs after every other cleanup
	var mu sync.Mutex
	var relayTimes []time.Duration
	broker := newAPI(t)
	r := connectHooked(t, broker, func(d time.Duration) {
		mu.Lock()
		relayTimes = append(relayTimes, d)
		mu.Unlock()
	})
	warmUp(t, r)
	mu.Lock()
	relayTimes = relayTimes[:0]
	mu.Unlock()
	const n = 300
	var e2e []time.Duration
	for i := range n {
		f := keyframe(t, 800)
		start := time.Now()
		if err := r.agent.WriteFrame(f, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-r.browser.frames:
			if !bytes.Equal(got.data, f) {
				t.Fatalf("frame %d differs", i)
			}
			e2e = append(e2e, got.arrived.Sub(start))
		case <-time.After(wait):
			t.Fatalf("frame %d lost", i)
		}
	}
	// The hook runs after the write returns, so the last call may trail the frame.
	waitFor(t, "hook calls", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(relayTimes) >= n
	})
	mu.Lock()
	rt := slices.Clone(relayTimes)
	mu.Unlock()
	rp50, rp99 := pct(rt, 50), pct(rt, 99)
	ep50, ep99 := pct(e2e, 50), pct(e2e, 99)
	t.Logf("relay hold per packet: p50 %v p99 %v (n=%d); agent WriteFrame → browser frame: p50 %v p99 %v (n=%d)",
		rp50, rp99, len(rt), ep50, ep99, len(e2e))
	if rp50 > 2*time.Millisecond {
		t.Fatalf("relay p50 %v, want ≤ 2ms", rp50)
	}
	if ep50 > 20*time.Millisecond {
		t.Fatalf("end-to-end p50 %v, want ≤ 20ms on loopback", ep50)
	}
}

// connectHooked is connect with a forward hook installed before any packet flows.
func connectHooked(t *testing.T, broker *webrtc.API, hook func(time.Duration)) *rig {
	t.Helper()
	return connectWith(t, broker, Options{}, func(s *Session) { s.forwardHook = hook })
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// candidatePorts lists the distinct ports of the candidates in an SDP.
func candidatePorts(t *testing.T, sdp string) []string {
	t.Helper()
	var ports []string
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "a=candidate:") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("short candidate %q", line)
		}
		if ip := net.ParseIP(f[4]); ip == nil || !ip.IsLoopback() {
			t.Fatalf("candidate %q is not on loopback", line)
		}
		if !slices.Contains(ports, f[5]) {
			ports = append(ports, f[5])
		}
	}
	return ports
}
