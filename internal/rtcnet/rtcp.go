package rtcnet

import (
	"log/slog"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// DrainRTCP reads a sender's RTCP until the sender closes (reading is what
// feeds the NACK responder and sender reports) and calls onKeyframe once
// for every PLI or FIR, the receiver's requests for a keyframe.
func DrainRTCP(sender *webrtc.RTPSender, log *slog.Logger, onKeyframe func()) {
	buf := make([]byte, 1500)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			log.Debug("rtcp_bad_packet", "err", err)
			continue
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				onKeyframe()
			}
		}
	}
}
