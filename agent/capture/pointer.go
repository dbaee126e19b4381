package capture

import "image"

// Pointer shapes as DXGI Desktop Duplication hands them over
// (DXGI_OUTDUPL_POINTER_SHAPE_TYPE). The desktop image it duplicates has no
// cursor: the grabber draws it (overlay).
const (
	shapeMonochrome  = 1 // 1 bpp: an AND mask over an XOR mask, each Height/2 rows
	shapeColor       = 2 // 32 bpp BGRA, alpha-blended
	shapeMaskedColor = 4 // 32 bpp BGRX; alpha 0 replaces the pixel, 0xFF XORs it
)

// pointerShape is one cursor image.
type pointerShape struct {
	typ   uint32
	w, h  int // pixels; h is the visible height (half the mask rows for monochrome)
	pitch int // bytes per row of data
	data  []byte
}

// overlay keeps the cursor drawn on a copy of a cursor-less desktop image:
// desk is the desktop as captured, out what the frame shows.
type overlay struct {
	shape   *pointerShape
	pos     image.Point // top-left of the shape, buffer coordinates
	visible bool
	drawn   image.Rectangle // where out shows the cursor now; empty if nowhere
}

// compose brings out up to date after desk changed in dirty and/or the
// pointer changed (o's fields set by the caller), and returns what changed
// in out: dirty, and where the cursor was and is.
func (o *overlay) compose(desk, out []byte, stride int, bounds, dirty image.Rectangle) image.Rectangle {
	dirty = dirty.Intersect(bounds)
	copyRect(out, desk, stride, dirty)
	changed := dirty
	if !o.drawn.Empty() {
		copyRect(out, desk, stride, o.drawn)
		changed = changed.Union(o.drawn)
		o.drawn = image.Rectangle{}
	}
	if o.visible && o.shape != nil {
		r := image.Rect(0, 0, o.shape.w, o.shape.h).Add(o.pos).Intersect(bounds)
		if !r.Empty() {
			drawShape(out, stride, r, o.pos, o.shape)
			o.drawn = r
			changed = changed.Union(r)
		}
	}
	return changed
}

// copyRect copies r of src into dst (same layout).
func copyRect(dst, src []byte, stride int, r image.Rectangle) {
	if r.Empty() {
		return
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		o := y*stride + r.Min.X*4
		copy(dst[o:o+r.Dx()*4], src[o:o+r.Dx()*4])
	}
}

// drawShape draws the part r (buffer coordinates) of shape s, whose
// top-left is at pos, onto the BGRX buffer.
func drawShape(buf []byte, stride int, r image.Rectangle, pos image.Point, s *pointerShape) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		sy := y - pos.Y
		for x := r.Min.X; x < r.Max.X; x++ {
			sx := x - pos.X
			p := buf[y*stride+x*4 : y*stride+x*4+3 : y*stride+x*4+3]
			switch s.typ {
			case shapeMonochrome:
				bit := byte(0x80) >> (sx % 8)
				and := s.data[sy*s.pitch+sx/8]&bit != 0
				xor := s.data[(sy+s.h)*s.pitch+sx/8]&bit != 0
				for i := range p {
					if !and {
						p[i] = 0
					}
					if xor {
						p[i] ^= 0xff
					}
				}
			case shapeColor:
				q := s.data[sy*s.pitch+sx*4 : sy*s.pitch+sx*4+4]
				a := uint32(q[3])
				for i := range p {
					p[i] = byte((uint32(q[i])*a + uint32(p[i])*(255-a) + 127) / 255)
				}
			case shapeMaskedColor:
				q := s.data[sy*s.pitch+sx*4 : sy*s.pitch+sx*4+4]
				for i := range p {
					if q[3] == 0 {
						p[i] = q[i]
					} else {
						p[i] ^= q[i]
					}
				}
			}
		}
	}
}
