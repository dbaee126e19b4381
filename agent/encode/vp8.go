//go:build cgo

package encode

/*
#cgo pkg-config: vpx
#include <stdlib.h>
#include <vpx/vpx_encoder.h>
#include <vpx/vp8cx.h>

static vpx_codec_err_t pe_default_cfg(vpx_codec_enc_cfg_t *cfg) {
	return vpx_codec_enc_config_default(vpx_codec_vp8_cx(), cfg, 0);
}
static vpx_codec_err_t pe_init(vpx_codec_ctx_t *ctx, vpx_codec_enc_cfg_t *cfg) {
	return vpx_codec_enc_init(ctx, vpx_codec_vp8_cx(), cfg, 0);
}
static vpx_codec_err_t pe_ctrl(vpx_codec_ctx_t *ctx, int id, int v) {
	return vpx_codec_control_(ctx, id, v);
}
// pe_encode wraps the caller's planes (only for the duration of the call;
// libvpx copies the source into its own buffers) and encodes one frame.
static vpx_codec_err_t pe_encode(vpx_codec_ctx_t *ctx, unsigned char *y, unsigned char *u, unsigned char *v,
		int ystride, int cstride, unsigned int w, unsigned int h,
		vpx_codec_pts_t pts, unsigned long dur, int key) {
	vpx_image_t img;
	if (!vpx_img_wrap(&img, VPX_IMG_FMT_I420, w, h, 1, y)) return VPX_CODEC_INVALID_PARAM;
	img.planes[VPX_PLANE_Y] = y;
	img.planes[VPX_PLANE_U] = u;
	img.planes[VPX_PLANE_V] = v;
	img.stride[VPX_PLANE_Y] = ystride;
	img.stride[VPX_PLANE_U] = cstride;
	img.stride[VPX_PLANE_V] = cstride;
	return vpx_codec_encode(ctx, &img, pts, dur, key ? VPX_EFLAG_FORCE_KF : 0, VPX_DL_REALTIME);
}
// pe_packet returns the next frame packet's bytes, or 0 when there are no more.
static int pe_packet(vpx_codec_ctx_t *ctx, vpx_codec_iter_t *iter, void **buf, size_t *sz, int *key) {
	const vpx_codec_cx_pkt_t *pkt;
	while ((pkt = vpx_codec_get_cx_data(ctx, iter)) != NULL) {
		if (pkt->kind == VPX_CODEC_CX_FRAME_PKT) {
			*buf = pkt->data.frame.buf;
			*sz = pkt->data.frame.sz;
			*key = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
			return 1;
		}
	}
	return 0;
}
*/
import "C"

import (
	"fmt"
	"image"
	"sync"
	"time"
	"unsafe"
)

// VP8 is a libvpx VP8 encoder. It is safe for concurrent use, though
// frames are naturally encoded one after another.
type VP8 struct {
	mu      sync.Mutex // guards everything below
	ctx     *C.vpx_codec_ctx_t
	cfg     *C.vpx_codec_enc_cfg_t
	conf    Config
	lastPTS C.vpx_codec_pts_t
	frames  int
}

// NewVP8 starts an encoder with realtime, low-latency settings: constant
// bitrate, no lookahead, error resilience (each frame decodable after
// loss of a previous non-reference one), screen-content mode. Close it.
func NewVP8(c Config) (*VP8, error) {
	if err := c.fill(); err != nil {
		return nil, err
	}
	e := &VP8{
		ctx:  (*C.vpx_codec_ctx_t)(C.calloc(1, C.sizeof_vpx_codec_ctx_t)),
		cfg:  (*C.vpx_codec_enc_cfg_t)(C.calloc(1, C.sizeof_vpx_codec_enc_cfg_t)),
		conf: c,
	}
	if err := e.init(); err != nil {
		C.free(unsafe.Pointer(e.ctx))
		C.free(unsafe.Pointer(e.cfg))
		return nil, err
	}
	return e, nil
}

func (e *VP8) init() error {
	c, cfg := e.conf, e.cfg
	if rc := C.pe_default_cfg(cfg); rc != C.VPX_CODEC_OK {
		return codecErr("default config", rc, nil)
	}
	cfg.g_w = C.uint(c.Width)
	cfg.g_h = C.uint(c.Height)
	// Millisecond timestamps: frames come when the screen changes, not
	// on a fixed clock, and rate control needs their real spacing.
	cfg.g_timebase.num = 1
	cfg.g_timebase.den = 1000
	cfg.g_threads = C.uint(c.Threads)
	cfg.g_lag_in_frames = 0
	cfg.g_error_resilient = C.VPX_ERROR_RESILIENT_DEFAULT
	cfg.g_pass = C.VPX_RC_ONE_PASS
	cfg.rc_end_usage = C.VPX_CBR
	cfg.rc_target_bitrate = C.uint(c.BitrateKbps)
	cfg.rc_dropframe_thresh = 0 // every captured change is sent
	cfg.rc_min_quantizer = 2
	cfg.rc_max_quantizer = 56
	cfg.rc_undershoot_pct = 100
	cfg.rc_overshoot_pct = 15
	cfg.rc_buf_sz = 1000
	cfg.rc_buf_initial_sz = 500
	cfg.rc_buf_optimal_sz = 600
	cfg.kf_mode = C.VPX_KF_AUTO
	cfg.kf_min_dist = 0
	cfg.kf_max_dist = C.uint(c.FPS * 10)
	if rc := C.pe_init(e.ctx, cfg); rc != C.VPX_CODEC_OK {
		return codecErr("init", rc, nil)
	}
	for _, ctl := range []struct {
		name string
		id   C.int
		v    int
	}{
		{"cpu-used", C.VP8E_SET_CPUUSED, c.CPUUsed},
		{"screen-content-mode", C.VP8E_SET_SCREEN_CONTENT_MODE, 1},
		{"static-threshold", C.VP8E_SET_STATIC_THRESHOLD, c.StaticThreshold},
		{"token-partitions", C.VP8E_SET_TOKEN_PARTITIONS, C.VP8_TWO_TOKENPARTITION},
		{"noise-sensitivity", C.VP8E_SET_NOISE_SENSITIVITY, 0},
	} {
		if rc := C.pe_ctrl(e.ctx, ctl.id, C.int(ctl.v)); rc != C.VPX_CODEC_OK {
			err := codecErr(ctl.name, rc, e.ctx)
			C.vpx_codec_destroy(e.ctx)
			return err
		}
	}
	return nil
}

func codecErr(op string, rc C.vpx_codec_err_t, ctx *C.vpx_codec_ctx_t) error {
	msg := C.GoString(C.vpx_codec_err_to_string(rc))
	if ctx != nil {
		if d := C.vpx_codec_error_detail(ctx); d != nil {
			msg += ": " + C.GoString(d)
		}
	}
	return fmt.Errorf("vp8 %s: %w: %s", op, ErrCodec, msg)
}

// Size is the encoded frame size after rounding to even.
func (e *VP8) Size() (w, h int) { return e.conf.Width, e.conf.Height }

// Encode compresses the top-left Width×Height of img, a 4:2:0 image, into
// one VP8 frame. pts is the capture time relative to any fixed origin;
// it must grow (a non-increasing pts is nudged 1 ms past the previous one).
// forceKeyframe asks for a keyframe, e.g. at connect or on a PLI; the first
// frame always is one. The returned bytes belong to the caller. A nil
// frame with no error means libvpx produced nothing for this input.
func (e *VP8) Encode(img *image.YCbCr, pts time.Duration, forceKeyframe bool) (frame []byte, keyframe bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil {
		return nil, false, ErrClosed
	}
	w, h := e.conf.Width, e.conf.Height
	if img.SubsampleRatio != image.YCbCrSubsampleRatio420 || img.Rect.Dx() < w || img.Rect.Dy() < h {
		return nil, false, fmt.Errorf("%v %v for %dx%d: %w", img.Rect, img.SubsampleRatio, w, h, ErrFrameSize)
	}
	p := C.vpx_codec_pts_t(pts.Milliseconds())
	dur := C.ulong(1000 / e.conf.FPS)
	if e.frames > 0 {
		if p <= e.lastPTS {
			p = e.lastPTS + 1
		}
		dur = C.ulong(p - e.lastPTS)
	}
	o := img.Rect.Min
	y := img.Y[img.YOffset(o.X, o.Y):]
	cb := img.Cb[img.COffset(o.X, o.Y):]
	cr := img.Cr[img.COffset(o.X, o.Y):]
	key := C.int(0)
	if forceKeyframe || e.frames == 0 {
		key = 1
	}
	rc := C.pe_encode(e.ctx,
		(*C.uchar)(unsafe.Pointer(&y[0])), (*C.uchar)(unsafe.Pointer(&cb[0])), (*C.uchar)(unsafe.Pointer(&cr[0])),
		C.int(img.YStride), C.int(img.CStride), C.uint(w), C.uint(h), p, dur, key)
	if rc != C.VPX_CODEC_OK {
		return nil, false, codecErr("encode", rc, e.ctx)
	}
	e.lastPTS = p
	e.frames++
	var (
		iter C.vpx_codec_iter_t
		buf  unsafe.Pointer
		sz   C.size_t
		kf   C.int
	)
	for C.pe_packet(e.ctx, &iter, &buf, &sz, &kf) != 0 {
		frame = append(frame, unsafe.Slice((*byte)(buf), int(sz))...)
		keyframe = keyframe || kf != 0
	}
	return frame, keyframe, nil
}

// SetBitrate changes the constant-bitrate target from the next frame on,
// e.g. when the receiver's bandwidth estimate changes.
func (e *VP8) SetBitrate(kbps int) error {
	if kbps < 10 || kbps > 100000 {
		return fmt.Errorf("bitrate %d kbps: %w", kbps, ErrConfig)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil {
		return ErrClosed
	}
	e.cfg.rc_target_bitrate = C.uint(kbps)
	if rc := C.vpx_codec_enc_config_set(e.ctx, e.cfg); rc != C.VPX_CODEC_OK {
		return codecErr("set bitrate", rc, e.ctx)
	}
	e.conf.BitrateKbps = kbps
	return nil
}

// Close frees the encoder. It is idempotent.
func (e *VP8) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil {
		return nil
	}
	C.vpx_codec_destroy(e.ctx)
	C.free(unsafe.Pointer(e.ctx))
	C.free(unsafe.Pointer(e.cfg))
	e.ctx, e.cfg = nil, nil
	return nil
}
