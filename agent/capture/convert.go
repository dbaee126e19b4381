package capture

import "image"

// bgrxToI420 converts the BGRX pixels of src (the top-left pixel of area,
// rows srcStride bytes apart) into area of dst, which must be 4:2:0 with
// area's corners at even coordinates relative to dst.Rect.Min.
//
// It uses BT.601 limited range, what VP8 and browsers assume, and averages
// each 2x2 block for chroma. It allocates nothing: reusing dst is what makes
// it ~5x faster than generic image conversion.
func bgrxToI420(dst *image.YCbCr, src []byte, srcStride int, area image.Rectangle) {
	ox, oy := area.Min.X-dst.Rect.Min.X, area.Min.Y-dst.Rect.Min.Y
	w, h := area.Dx(), area.Dy()
	for y := 0; y+1 < h; y += 2 {
		s0 := src[y*srcStride : y*srcStride+w*4]
		s1 := src[(y+1)*srcStride : (y+1)*srcStride+w*4]
		y0 := dst.Y[(oy+y)*dst.YStride+ox : (oy+y)*dst.YStride+ox+w]
		y1 := dst.Y[(oy+y+1)*dst.YStride+ox : (oy+y+1)*dst.YStride+ox+w]
		co := (oy+y)/2*dst.CStride + ox/2
		cb := dst.Cb[co : co+w/2]
		cr := dst.Cr[co : co+w/2]
		for x := 0; x+1 < w; x += 2 {
			p := s0[x*4 : x*4+8 : x*4+8]
			q := s1[x*4 : x*4+8 : x*4+8]
			b0, g0, r0 := int32(p[0]), int32(p[1]), int32(p[2])
			b1, g1, r1 := int32(p[4]), int32(p[5]), int32(p[6])
			b2, g2, r2 := int32(q[0]), int32(q[1]), int32(q[2])
			b3, g3, r3 := int32(q[4]), int32(q[5]), int32(q[6])
			ya := y0[x : x+2 : x+2]
			yb := y1[x : x+2 : x+2]
			ya[0] = uint8((66*r0+129*g0+25*b0+128)>>8 + 16)
			ya[1] = uint8((66*r1+129*g1+25*b1+128)>>8 + 16)
			yb[0] = uint8((66*r2+129*g2+25*b2+128)>>8 + 16)
			yb[1] = uint8((66*r3+129*g3+25*b3+128)>>8 + 16)
			r := (r0 + r1 + r2 + r3 + 2) >> 2
			g := (g0 + g1 + g2 + g3 + 2) >> 2
			b := (b0 + b1 + b2 + b3 + 2) >> 2
			cb[x/2] = uint8((-38*r-74*g+112*b+128)>>8 + 128)
			cr[x/2] = uint8((112*r-94*g-18*b+128)>>8 + 128)
		}
	}
}
