package rtcnet

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"porthole/internal/rtcnet/rtcnettest"
)

const wait = 10 * time.Second

func loopback() Config { return Config{ListenIP: "127.0.0.1", Loopback: true} }

func mustAPI(t *testing.T, cfg Config) *webrtc.API {
	t.Helper()
	api, closer, err := NewAPI(cfg, nil)
	if err != nil {
		t.Fatalf("NewAPI(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := closer.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		_ = closer.Close() // idempotent
	})
	return api
}

type candidate struct{ proto, ip, port, typ string }

// candidates lists the distinct candidates of an SDP (pion repeats them in every
// bundled media section).
func candidates(sdp string) []candidate {
	var out []candidate
	for _, line := range strings.Split(sdp, "\n") {
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) >= 8 && strings.HasPrefix(f[0], "a=candidate:") {
			c := candidate{proto: strings.ToLower(f[2]), ip: f[4], port: f[5], typ: f[7]}
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative UDP port", Config{UDPPort: -1}},
		{"UDP port too large", Config{UDPPort: 70000}},
		{"TCP port too large", Config{TCPPort: 70000}},
		{"bad listen IP", Config{ListenIP: "localhost"}},
		{"IPv6 listen IP", Config{ListenIP: "::1"}},
		{"bad public IP", Config{ListenIP: "127.0.0.1", PublicIPs: []string{"example.com"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := NewAPI(tt.cfg, nil); !errors.Is(err, ErrConfig) {
				t.Fatalf("NewAPI: %v, want ErrConfig", err)
			}
		})
	}
}

func TestOfferCodecsAndExtension(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	_, sdp := rtcnettest.Offer(t, mustAPI(t, loopback()))
	for _, want := range []string{
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n", // VP8 only, nothing else offered
		"a=rtpmap:96 VP8/90000",
		"a=rtcp-fb:96 nack\r\n",
		"a=rtcp-fb:96 nack pli",
		"a=rtcp-fb:96 ccm fir",
		" " + PlayoutDelayURI,
	} {
		if !strings.Contains(sdp, want) {
			t.Errorf("offer lacks %q", want)
		}
	}
	if strings.Contains(sdp, ".local") {
		t.Error("offer has mDNS candidates")
	}
}

func TestOnePortAndRelease(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	api, closer, err := NewAPI(loopback(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, sdp1 := rtcnettest.Offer(t, api)
	_, sdp2 := rtcnettest.Offer(t, api)
	all := append(candidates(sdp1), candidates(sdp2)...)
	if len(all) != 2 {
		t.Fatalf("want one candidate in each offer, got %v", all)
	}
	for _, c := range all {
		if c != all[0] || c.proto != "udp" || c.ip != "127.0.0.1" || c.typ != "host" {
			t.Fatalf("candidates %v: want one UDP host candidate 127.0.0.1 on one port", all)
		}
	}
	port, _ := strconv.Atoi(all[0].port)

	// The port is taken while the API lives…
	if _, _, err := NewAPI(Config{UDPPort: port, ListenIP: "127.0.0.1"}, nil); !errors.Is(err, ErrListen) {
		t.Fatalf("second NewAPI on port %d: %v, want ErrListen", port, err)
	}
	// …and free after Close.
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	api2, closer2, err := NewAPI(Config{UDPPort: port, ListenIP: "127.0.0.1", Loopback: true}, nil)
	if err != nil {
		t.Fatalf("NewAPI on released port %d: %v", port, err)
	}
	t.Cleanup(func() { _ = closer2.Close() })
	_, sdp3 := rtcnettest.Offer(t, api2)
	if c := candidates(sdp3); len(c) != 1 || c[0].port != strconv.Itoa(port) {
		t.Fatalf("fixed port: candidates %v, want port %d", c, port)
	}
}

func TestPublicIPs(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := loopback()
	cfg.PublicIPs = []string{"203.0.113.7"} // documentation range; only written into the SDP
	_, sdp := rtcnettest.Offer(t, mustAPI(t, cfg))
	c := candidates(sdp)
	if len(c) != 1 || c[0].ip != "203.0.113.7" || c[0].typ != "host" {
		t.Fatalf("candidates %v, want one host candidate with the public IP", c)
	}
}

// TestICETCPFallback connects a client that cannot use UDP to an API with ICE-TCP on.
func TestICETCPFallback(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := loopback()
	cfg.TCPPort = -1
	server, sdp := rtcnettest.Offer(t, mustAPI(t, cfg))
	var haveTCP bool
	for _, c := range candidates(sdp) {
		haveTCP = haveTCP || (c.proto == "tcp" && c.ip == "127.0.0.1")
	}
	if !haveTCP {
		t.Fatalf("no TCP candidate in %v", candidates(sdp))
	}

	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	client, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	connected := make(chan struct{})
	server.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	if err := client.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		t.Fatal(err)
	}
	ans, err := client.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(client)
	if err := client.SetLocalDescription(ans); err != nil {
		t.Fatal(err)
	}
	<-g
	if err := server.SetRemoteDescription(*client.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(wait):
		t.Fatal("no connection over ICE-TCP")
	}
	pair, err := server.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("selected pair: %v", err)
	}
	if pair.Local.Protocol != webrtc.ICEProtocolTCP {
		t.Fatalf("selected pair %s, want TCP", pair)
	}
}
