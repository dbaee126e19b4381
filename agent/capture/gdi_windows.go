package capture

import (
	"context"
	"fmt"
	"image"
	"time"
	"unsafe"
)

// gdi grabs an area of the desktop with BitBlt into one of two persistent
// DIB sections, draws the cursor on it (GetCursorInfo + DrawIconEx), and
// compares it with the other, which holds the previous frame. GDI tells
// nobody what changed, so it polls: fast while the screen changes, slowly
// once it has been still for idleAfter.
type gdi struct {
	rect   image.Rectangle // captured area, virtual-desktop coordinates
	screen uintptr         // HDC of the screen (GetDC(NULL))
	mem    uintptr         // memory DC the DIBs are selected into in turn
	orig   uintptr         // the memory DC's original bitmap
	dibs   [2]uintptr      // HBITMAP
	bits   [2][]byte       // their pixels, top-down BGRX
	cur    int             // index of the DIB holding the latest frame
	first  bool            // no frame yet

	minGap     time.Duration // poll interval while the screen changes (at least)
	blitCost   time.Duration // smoothed BitBlt time, to keep polling affordable
	lastCost   time.Duration // the last returned grab's BitBlt and compare
	lastChange time.Time
	hotspots   map[uintptr]image.Point // cursor handle → hotspot
}

// Polling once the screen is still: the first change after a pause waits
// up to idlePoll longer, an unchanged screen costs one BitBlt and one
// compare per idlePoll.
const (
	idleAfter = time.Second
	idlePoll  = 100 * time.Millisecond
)

func openGDI(rect image.Rectangle, o Options) (g grabber, err error) {
	o = o.withDefaults()
	w, h := rect.Dx(), rect.Dy()
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%v: %w", rect, ErrBadRect)
	}
	d := &gdi{rect: rect, cur: 0, first: true, minGap: time.Second / time.Duration(o.MaxFPS), hotspots: map[uintptr]image.Point{}}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.screen, _, err = procGetDC.Call(0); d.screen == 0 {
		return nil, fmt.Errorf("GetDC(screen): %w: %w", ErrNoDisplay, err)
	}
	if d.mem, _, err = procCreateCompatibleDC.Call(d.screen); d.mem == 0 {
		return nil, fmt.Errorf("CreateCompatibleDC: %w", err)
	}
	bi := bitmapInfoHeader{Width: int32(w), Height: -int32(h), Planes: 1, BitCount: 32} // top-down, BI_RGB
	bi.Size = uint32(unsafe.Sizeof(bi))
	for i := range d.dibs {
		var bits unsafe.Pointer
		if d.dibs[i], _, err = procCreateDIBSection.Call(d.mem, ptr(&bi), dibRGBColors, ptr(&bits), 0, 0); d.dibs[i] == 0 || bits == nil {
			return nil, fmt.Errorf("CreateDIBSection %dx%d: %w", w, h, err)
		}
		d.bits[i] = unsafe.Slice((*byte)(bits), w*h*4)
	}
	if d.orig, _, err = procSelectObject.Call(d.mem, d.dibs[0]); d.orig == 0 {
		return nil, fmt.Errorf("SelectObject: %w", err)
	}
	return d, nil
}

func (d *gdi) pixels() ([]byte, int) { return d.bits[d.cur], d.rect.Dx() * 4 }

func (d *gdi) cost() time.Duration { return d.lastCost }

func (d *gdi) grab(ctx context.Context, full bool) (image.Rectangle, error) {
	whole := image.Rect(0, 0, d.rect.Dx(), d.rect.Dy())
	for {
		t0 := time.Now()
		next := 1 - d.cur
		if err := d.blit(next); err != nil {
			return image.Rectangle{}, err
		}
		var changed image.Rectangle
		if full || d.first {
			changed = whole
		} else {
			changed = diffRect(d.bits[d.cur], d.bits[next], d.rect.Dx()*4, d.rect.Dx(), d.rect.Dy())
		}
		if !changed.Empty() {
			d.cur, d.first = next, false
			d.lastChange = time.Now()
			d.lastCost = d.lastChange.Sub(t0)
			return changed, nil
		}
		// Poll again: at the frame rate, but leaving the CPU at least two
		// thirds of the time; slowly once the screen has been still.
		wait := max(d.minGap, 2*d.blitCost)
		if time.Since(d.lastChange) > idleAfter {
			wait = max(wait, idlePoll)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return image.Rectangle{}, ctx.Err()
		case <-t.C:
		}
	}
}

// blit copies the screen area and the cursor into DIB i.
func (d *gdi) blit(i int) error {
	t0 := time.Now()
	if r, _, err := procSelectObject.Call(d.mem, d.dibs[i]); r == 0 {
		return fmt.Errorf("SelectObject: %w", err)
	}
	r, _, err := procBitBlt.Call(d.mem, 0, 0, uintptr(d.rect.Dx()), uintptr(d.rect.Dy()),
		d.screen, uintptr(int32(d.rect.Min.X)), uintptr(int32(d.rect.Min.Y)), srcCopy|captureBlt)
	if r == 0 {
		// The desktop went away (the secure desktop or the lock screen is
		// showing, or the session was disconnected).
		return fmt.Errorf("BitBlt: %w", err)
	}
	d.drawCursor()
	procGdiFlush.Call()
	cost := time.Since(t0)
	if d.blitCost == 0 {
		d.blitCost = cost
	} else {
		d.blitCost += (cost - d.blitCost) / 8
	}
	return nil
}

// drawCursor draws the visible cursor into the selected DIB, where it is on
// screen. A cursor without a handle (Wine over a non-Wine window) is not
// drawn.
func (d *gdi) drawCursor() {
	ci := cursorInfo{Size: uint32(unsafe.Sizeof(cursorInfo{}))}
	if r, _, _ := procGetCursorInfo.Call(ptr(&ci)); r == 0 || ci.Flags&cursorShowing == 0 || ci.Cursor == 0 {
		return
	}
	hot, ok := d.hotspots[ci.Cursor]
	if !ok {
		var ii iconInfo
		if r, _, _ := procGetIconInfo.Call(ci.Cursor, ptr(&ii)); r == 0 {
			return
		}
		for _, b := range []uintptr{ii.Mask, ii.Color} {
			if b != 0 {
				procDeleteObject.Call(b)
			}
		}
		hot = image.Pt(int(ii.XHotspot), int(ii.YHotspot))
		if len(d.hotspots) > 64 { // cursors come and go (animated, per application)
			clear(d.hotspots)
		}
		d.hotspots[ci.Cursor] = hot
	}
	x := int(ci.X) - hot.X - d.rect.Min.X
	y := int(ci.Y) - hot.Y - d.rect.Min.Y
	procDrawIconEx.Call(d.mem, uintptr(int32(x)), uintptr(int32(y)), ci.Cursor, 0, 0, 0, 0, diNormal)
}

func (d *gdi) close() error {
	if d.orig != 0 {
		procSelectObject.Call(d.mem, d.orig)
	}
	for _, b := range d.dibs {
		if b != 0 {
			procDeleteObject.Call(b)
		}
	}
	d.bits = [2][]byte{}
	if d.mem != 0 {
		procDeleteDC.Call(d.mem)
	}
	if d.screen != 0 {
		procReleaseDC.Call(0, d.screen)
	}
	*d = gdi{}
	return nil
}
