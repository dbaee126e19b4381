package video

import (
	"sync/atomic"
	"time"
)

// Counters collects a running loop's per-stage measurements. It is safe to
// read (Stats) from any goroutine while Run writes it; the zero value is
// ready to use.
type Counters struct {
	frames, keyframes, bytes    atomic.Int64
	captureNS, encodeNS, sinkNS atomic.Int64 // totals
	lastCaptureNS, lastEncodeNS atomic.Int64
	intervalNS                  atomic.Int64
}

// Stats is a snapshot of Counters.
type Stats struct {
	Frames    int64 // frames handed to the sink
	Keyframes int64
	Bytes     int64
	// Totals over all frames: capture counts reading and converting
	// pixels (not waiting for a change, when the source reports it),
	// encode the encoder call, sink the sink call.
	Capture, Encode, Sink time.Duration
	// The most recent frame's capture and encode times.
	LastCapture, LastEncode time.Duration
	// Interval is the current minimum spacing of frames: 1/FPS, or more
	// when frames take longer than that to produce.
	Interval time.Duration
}

// Stats returns a snapshot.
func (c *Counters) Stats() Stats {
	return Stats{
		Frames:      c.frames.Load(),
		Keyframes:   c.keyframes.Load(),
		Bytes:       c.bytes.Load(),
		Capture:     time.Duration(c.captureNS.Load()),
		Encode:      time.Duration(c.encodeNS.Load()),
		Sink:        time.Duration(c.sinkNS.Load()),
		LastCapture: time.Duration(c.lastCaptureNS.Load()),
		LastEncode:  time.Duration(c.lastEncodeNS.Load()),
		Interval:    time.Duration(c.intervalNS.Load()),
	}
}

// AvgCapture is the mean capture time per frame.
func (s Stats) AvgCapture() time.Duration { return avg(s.Capture, s.Frames) }

// AvgEncode is the mean encode time per frame.
func (s Stats) AvgEncode() time.Duration { return avg(s.Encode, s.Frames) }

func avg(d time.Duration, n int64) time.Duration {
	if n == 0 {
		return 0
	}
	return d / time.Duration(n)
}

func (c *Counters) add(capture, encode, sink time.Duration, size int, key bool) {
	c.frames.Add(1)
	if key {
		c.keyframes.Add(1)
	}
	c.bytes.Add(int64(size))
	c.captureNS.Add(int64(capture))
	c.encodeNS.Add(int64(encode))
	c.sinkNS.Add(int64(sink))
	c.lastCaptureNS.Store(int64(capture))
	c.lastEncodeNS.Store(int64(encode))
}
