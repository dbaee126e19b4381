// Package encode compresses screen frames to VP8 with libvpx in realtime
// mode, tuned for screen content and low latency (see MEDIA-NOTES: a thin
// cgo wrapper with threads and speed set is ~5x faster than generic ones).
//
// The libvpx code needs cgo (vp8.go); a binary built without cgo has the
// same API, whose NewVP8 fails with ErrNotBuilt (vp8_nocgo.go).
package encode

import "fmt"

// Config sets up a VP8 encoder. Zero fields take the defaults noted.
type Config struct {
	// Width and Height of the frames; odd values are rounded down to even
	// (the encoder reads the top-left Width×Height of each image).
	Width, Height int
	// FPS is the nominal frame rate; it sets the keyframe interval
	// (10 s worth) and the duration of the first frame. Default 30.
	FPS int
	// BitrateKbps is the constant-bitrate target. Default 2000.
	BitrateKbps int
	// Threads for libvpx. Default 2.
	Threads int
	// CPUUsed trades quality for speed, -16 (fastest) … 16; negative
	// values are the realtime speeds. Default -6; try -8…-12 under load.
	CPUUsed int
	// StaticThreshold lets the encoder skip macroblocks whose change is
	// below it (cheap on mostly static screens). Default 300, as
	// libwebrtc uses for screenshare; negative disables.
	StaticThreshold int
}

func (c *Config) fill() error {
	c.Width &^= 1
	c.Height &^= 1
	if c.Width < 2 || c.Height < 2 || c.Width > 16384 || c.Height > 16384 {
		return fmt.Errorf("size %dx%d: %w", c.Width, c.Height, ErrConfig)
	}
	if c.FPS == 0 {
		c.FPS = 30
	}
	if c.BitrateKbps == 0 {
		c.BitrateKbps = 2000
	}
	if c.Threads == 0 {
		c.Threads = 2
	}
	if c.CPUUsed == 0 {
		c.CPUUsed = -6
	}
	if c.StaticThreshold == 0 {
		c.StaticThreshold = 300
	}
	if c.StaticThreshold < 0 {
		c.StaticThreshold = 0
	}
	switch {
	case c.FPS < 1 || c.FPS > 240:
		return fmt.Errorf("fps %d: %w", c.FPS, ErrConfig)
	case c.BitrateKbps < 10 || c.BitrateKbps > 100000:
		return fmt.Errorf("bitrate %d kbps: %w", c.BitrateKbps, ErrConfig)
	case c.Threads < 1 || c.Threads > 16:
		return fmt.Errorf("threads %d: %w", c.Threads, ErrConfig)
	case c.CPUUsed < -16 || c.CPUUsed > 16:
		return fmt.Errorf("cpu-used %d: %w", c.CPUUsed, ErrConfig)
	}
	return nil
}
