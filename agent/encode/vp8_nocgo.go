//go:build !cgo

package encode

import (
	"image"
	"time"
)

// VP8 is the libvpx encoder of vp8.go; this binary was built without cgo,
// so there is none.
type VP8 struct{}

// NewVP8 fails with ErrNotBuilt: libvpx needs cgo. Windows binaries get it
// from a cgo build with mingw (make agent-windows).
func NewVP8(c Config) (*VP8, error) {
	if err := c.fill(); err != nil {
		return nil, err
	}
	return nil, ErrNotBuilt
}

// Size, Encode, SetBitrate and Close exist so that code wiring the encoder
// builds either way; with no way to make a VP8 here they are never reached.
func (*VP8) Size() (w, h int) { return 0, 0 }

func (*VP8) Encode(*image.YCbCr, time.Duration, bool) ([]byte, bool, error) {
	return nil, false, ErrNotBuilt
}

func (*VP8) SetBitrate(int) error { return ErrNotBuilt }

func (*VP8) Close() error { return nil }
