package encode

import "errors"

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrConfig means a Config value is out of range.
	ErrConfig = errors.New("encode: bad config")
	// ErrFrameSize means an image is smaller than the encoder's frame size
	// or not 4:2:0.
	ErrFrameSize = errors.New("encode: image does not match encoder")
	// ErrCodec wraps a failure reported by libvpx.
	ErrCodec = errors.New("encode: libvpx error")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("encode: encoder closed")
	// ErrNotBuilt is returned by NewVP8 in a binary built without cgo,
	// which cannot link libvpx.
	ErrNotBuilt = errors.New("encode: VP8 encoder not built into this binary (cgo disabled)")
)
