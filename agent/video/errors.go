package video

import "errors"

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrCapture wraps a failure of the frame source.
	ErrCapture = errors.New("video: capture failed")
	// ErrEncode wraps a failure of the encoder.
	ErrEncode = errors.New("video: encode failed")
	// ErrSink wraps a failure of the sink (e.g. the track closed).
	ErrSink = errors.New("video: sink failed")
)

// errKeyframe is the cancel cause that interrupts a blocked Next when a
// keyframe request arrives.
var errKeyframe = errors.New("keyframe requested")

// errIdle interrupts a wait on a static screen when a refresh frame is due.
var errIdle = errors.New("idle refresh due")
