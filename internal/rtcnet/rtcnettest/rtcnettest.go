// Package rtcnettest plays the broker's side of a WebRTC negotiation in
// tests: a complete offer as broker/relay makes it for an agent's leg.
package rtcnettest

import (
	"testing"

	"github.com/pion/webrtc/v4"
)

// Offer returns a peer connection of api (closed at cleanup) holding a
// complete offer: a video transceiver and the "input" data channel, its
// candidates gathered; and the offer's SDP.
func Offer(t testing.TB, api *webrtc.API) (*webrtc.PeerConnection, string) {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.CreateDataChannel("input", nil); err != nil {
		t.Fatal(err)
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-g
	return pc, pc.LocalDescription().SDP
}
