// Package vpxdec decodes VP8 with libvpx so the encoder's tests can check
// what a receiver would see. It is internal to encode: the agent only
// encodes, browsers decode.
package vpxdec

/*
#cgo pkg-config: vpx
#include <stdlib.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vp8dx.h>

static vpx_codec_err_t pd_init(vpx_codec_ctx_t *ctx) {
	return vpx_codec_dec_init(ctx, vpx_codec_vp8_dx(), NULL, 0);
}
static vpx_image_t *pd_frame(vpx_codec_ctx_t *ctx) {
	vpx_codec_iter_t iter = NULL;
	return vpx_codec_get_frame(ctx, &iter);
}
static unsigned char *pd_plane(vpx_image_t *img, int i) { return img->planes[i]; }
static int pd_stride(vpx_image_t *img, int i) { return img->stride[i]; }
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"
)

// ErrDecode wraps libvpx decoder failures.
var ErrDecode = errors.New("vpxdec: decode failed")

// Decoder is a VP8 decoder; not safe for concurrent use.
type Decoder struct {
	ctx *C.vpx_codec_ctx_t
}

// New starts a decoder; Close it.
func New() (*Decoder, error) {
	ctx := (*C.vpx_codec_ctx_t)(C.calloc(1, C.sizeof_vpx_codec_ctx_t))
	if rc := C.pd_init(ctx); rc != C.VPX_CODEC_OK {
		C.free(unsafe.Pointer(ctx))
		return nil, fmt.Errorf("init: %w: %s", ErrDecode, C.GoString(C.vpx_codec_err_to_string(rc)))
	}
	return &Decoder{ctx: ctx}, nil
}

// Decode decodes one frame into a new 4:2:0 image.
func (d *Decoder) Decode(frame []byte) (*image.YCbCr, error) {
	if len(frame) == 0 {
		return nil, fmt.Errorf("empty frame: %w", ErrDecode)
	}
	if rc := C.vpx_codec_decode(d.ctx, (*C.uint8_t)(unsafe.Pointer(&frame[0])), C.uint(len(frame)), nil, 0); rc != C.VPX_CODEC_OK {
		return nil, fmt.Errorf("%w: %s", ErrDecode, C.GoString(C.vpx_codec_err_to_string(rc)))
	}
	vi := C.pd_frame(d.ctx)
	if vi == nil {
		return nil, fmt.Errorf("no picture: %w", ErrDecode)
	}
	w, h := int(vi.d_w), int(vi.d_h)
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i, p := range []struct {
		dst       []byte
		stride, w int
		rows      int
	}{{img.Y, img.YStride, w, h}, {img.Cb, img.CStride, (w + 1) / 2, (h + 1) / 2}, {img.Cr, img.CStride, (w + 1) / 2, (h + 1) / 2}} {
		src, ss := C.pd_plane(vi, C.int(i)), int(C.pd_stride(vi, C.int(i)))
		all := unsafe.Slice((*byte)(unsafe.Pointer(src)), ss*(p.rows-1)+p.w)
		for r := range p.rows {
			copy(p.dst[r*p.stride:r*p.stride+p.w], all[r*ss:r*ss+p.w])
		}
	}
	return img, nil
}

// Close frees the decoder; it is idempotent.
func (d *Decoder) Close() {
	if d.ctx != nil {
		C.vpx_codec_destroy(d.ctx)
		C.free(unsafe.Pointer(d.ctx))
		d.ctx = nil
	}
}
