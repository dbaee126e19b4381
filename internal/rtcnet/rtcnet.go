// Package rtcnet builds the one pion/webrtc API that the broker and the agent use for
// the media path, so that both legs of a session agree on the codec (VP8, payload type
// 96), the playout-delay header extension and the interceptors, and so that the broker
// serves every session on one UDP port (plus an optional ICE-TCP port).
//
// PLI handling is deliberately not an interceptor here: the broker forwards keyframe
// requests from the browser to the agent itself, and the agent turns them into forced
// keyframes, so no periodic PLI generator is registered.
package rtcnet

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// PlayoutDelayURI is the RTP header extension that tells a WebRTC receiver how long it
// may hold frames in its jitter buffer; the broker sends min = max = 0 on every packet.
const PlayoutDelayURI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"

// VP8PayloadType is the payload type VP8 is offered with on both legs.
const VP8PayloadType = 96

// VP8Codec is the only video codec the media path speaks. It is exported so that the
// broker's forwarding track and the agent's sample track use exactly the registered
// capability.
var VP8Codec = webrtc.RTPCodecCapability{
	MimeType:  webrtc.MimeTypeVP8,
	ClockRate: 90000,
	RTCPFeedback: []webrtc.RTCPFeedback{
		{Type: "ccm", Parameter: "fir"},
		{Type: "nack"},
		{Type: "nack", Parameter: "pli"},
	},
}

// Config says where the media path listens and what it advertises.
type Config struct {
	// UDPPort is the one UDP port that carries ICE and media for every peer connection
	// made with the API (pion's UDP mux). 0 picks an ephemeral port.
	UDPPort int
	// TCPPort is the ICE-TCP fallback port (passive candidates, pion's TCP mux) for
	// clients whose networks block UDP. 0 turns ICE-TCP off; a negative value picks an
	// ephemeral port (tests); a positive value listens on that port.
	TCPPort int
	// ListenIP is the address both ports bind to; empty means every interface. When it
	// is set, only candidates for that address are gathered (tests use "127.0.0.1").
	ListenIP string
	// PublicIPs replace the host candidates' addresses (NAT 1:1, for a broker behind a
	// static DNAT such as a cloud VM's public IP).
	PublicIPs []string
	// Loopback includes 127.0.0.1 candidates; needed for tests and a demo on one machine.
	Loopback bool
}

// muxes owns the shared sockets; Close releases them.
type muxes struct {
	once    sync.Once
	closers []io.Closer
	err     error
}

func (m *muxes) Close() error {
	m.once.Do(func() {
		var errs []error
		for _, c := range m.closers {
			errs = append(errs, c.Close())
		}
		m.err = errors.Join(errs...)
	})
	return m.err
}

// NewAPI opens the shared ports and returns an API whose peer connections all use them.
// The caller owns the returned io.Closer and closes it after every peer connection made
// with the API is closed. A nil logger discards pion's logs.
func NewAPI(cfg Config, logger *slog.Logger) (*webrtc.API, io.Closer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "rtcnet")
	if cfg.UDPPort < 0 || cfg.UDPPort > 65535 || cfg.TCPPort > 65535 {
		return nil, nil, fmt.Errorf("%w: port out of range (udp %d, tcp %d)", ErrConfig, cfg.UDPPort, cfg.TCPPort)
	}
	var listenIP net.IP
	if cfg.ListenIP != "" {
		if listenIP = net.ParseIP(cfg.ListenIP); listenIP == nil || listenIP.To4() == nil {
			return nil, nil, fmt.Errorf("%w: listen IP %q is not an IPv4 address", ErrConfig, cfg.ListenIP)
		}
	}
	for _, ip := range cfg.PublicIPs {
		if p := net.ParseIP(ip); p == nil || p.To4() == nil {
			return nil, nil, fmt.Errorf("%w: public IP %q is not an IPv4 address", ErrConfig, ip)
		}
	}

	factory := slogFactory{log: logger}
	se := webrtc.SettingEngine{LoggerFactory: factory}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(cfg.Loopback)
	if listenIP != nil {
		se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(listenIP) })
	}
	if len(cfg.PublicIPs) > 0 {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("%w: public IPs: %w", ErrConfig, err)
		}
	}

	closer := &muxes{}
	host := ""
	if listenIP != nil {
		host = listenIP.String()
	}
	udpConn, err := net.ListenPacket("udp4", net.JoinHostPort(host, strconv.Itoa(cfg.UDPPort)))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: udp port %d: %w", ErrListen, cfg.UDPPort, err)
	}
	udpMux := webrtc.NewICEUDPMux(factory.NewLogger("udpmux"), udpConn)
	closer.closers = append(closer.closers, udpMux)
	se.SetICEUDPMux(udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}

	if cfg.TCPPort != 0 {
		port := max(cfg.TCPPort, 0)
		ln, err := net.Listen("tcp4", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			_ = closer.Close()
			return nil, nil, fmt.Errorf("%w: tcp port %d: %w", ErrListen, port, err)
		}
		tcpMux := webrtc.NewICETCPMux(factory.NewLogger("tcpmux"), ln, 8)
		closer.closers = append(closer.closers, tcpMux)
		se.SetICETCPMux(tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4)
	}
	se.SetNetworkTypes(networks)

	me := &webrtc.MediaEngine{}
	ir := &interceptor.Registry{}
	if err := registerMedia(me, ir); err != nil {
		_ = closer.Close()
		return nil, nil, err
	}
	api := webrtc.NewAPI(
		webrtc.WithSettingEngine(se),
		webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(ir),
	)
	logger.Debug("api_ready", "udp", udpConn.LocalAddr().String(), "tcp", cfg.TCPPort != 0)
	return api, closer, nil
}

// registerMedia registers VP8 only, the playout-delay extension for video, NACK in both
// directions and RTCP sender/receiver reports.
func registerMedia(me *webrtc.MediaEngine, ir *interceptor.Registry) error {
	err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: VP8Codec,
		PayloadType:        VP8PayloadType,
	}, webrtc.RTPCodecTypeVideo)
	if err != nil {
		return fmt.Errorf("%w: register VP8: %w", ErrMedia, err)
	}
	err = me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: PlayoutDelayURI}, webrtc.RTPCodecTypeVideo)
	if err != nil {
		return fmt.Errorf("%w: register playout-delay: %w", ErrMedia, err)
	}
	if err := webrtc.ConfigureNack(me, ir); err != nil {
		return fmt.Errorf("%w: nack: %w", ErrMedia, err)
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return fmt.Errorf("%w: rtcp reports: %w", ErrMedia, err)
	}
	return nil
}
