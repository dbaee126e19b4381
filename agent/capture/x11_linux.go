package capture

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"

	"github.com/gen2brain/shm"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	mshm "github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
)

// X11 grabs one rectangle of an X screen as I420, woken by XDamage.
//
// It owns one X connection, one MIT-SHM segment and one output image, all
// reused for every frame. Next must not be called concurrently; Force and
// Close may be called from any goroutine.
type X11 struct {
	conn   *xgb.Conn
	root   xproto.Window
	rect   image.Rectangle // captured area in root coordinates, even-sized
	shmID  int
	seg    mshm.Seg
	data   []byte // the attached segment; the server writes, Next reads
	dmg    damage.Damage
	parts  xfixes.Region // receives the damaged region on each Next
	img    *image.YCbCr
	minGap time.Duration
	log    *slog.Logger

	damaged chan struct{} // cap 1: a damage event arrived since the last frame
	force   chan struct{} // cap 1: next frame is a full grab, damage or not
	done    chan struct{} // closed when the event reader exits

	// Touched only by Next (and LastGrab, from the same goroutine).
	started  bool
	last     time.Time
	grabTime time.Duration

	// mu is held by Next while it uses the connection and the segment, and
	// by Close to tear them down, so Close never unmaps memory under a grab.
	mu     sync.Mutex
	closed bool // guarded by mu
}

// NewX11 connects to display ("" means $DISPLAY) and prepares to grab rect,
// given in root-window coordinates; the zero rectangle means the whole
// screen. The width and height are rounded down to even numbers, as 4:2:0
// video needs. The caller must Close the grabber.
func NewX11(display string, rect image.Rectangle, o Options) (*X11, error) {
	quietXGB()
	o = o.withDefaults()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("connect to display %q: %w: %w", display, ErrNoDisplay, err)
	}
	x := &X11{
		conn:    conn,
		minGap:  time.Second / time.Duration(o.MaxFPS),
		log:     o.Logger.With("component", "capture"),
		damaged: make(chan struct{}, 1),
		force:   make(chan struct{}, 1),
		done:    make(chan struct{}),
		shmID:   -1,
	}
	if err := x.setup(rect); err != nil {
		x.teardown()
		return nil, err
	}
	go x.readEvents()
	return x, nil
}

func (x *X11) setup(rect image.Rectangle) error {
	c := x.conn
	setup := xproto.Setup(c)
	screen := setup.DefaultScreen(c)
	x.root = screen.Root
	if err := checkFormat(setup, screen); err != nil {
		return err
	}
	whole := image.Rect(0, 0, int(screen.WidthInPixels), int(screen.HeightInPixels))
	if rect.Empty() {
		rect = whole
	}
	if !rect.In(whole) {
		return fmt.Errorf("%v not within screen %v: %w", rect, whole, ErrBadRect)
	}
	rect = evenRect(rect)
	if rect.Empty() {
		return fmt.Errorf("%v too small: %w", rect, ErrBadRect)
	}
	x.rect = rect
	x.img = image.NewYCbCr(image.Rect(0, 0, rect.Dx(), rect.Dy()), image.YCbCrSubsampleRatio420)

	for _, ext := range []struct {
		name string
		init func(*xgb.Conn) error
	}{{"MIT-SHM", mshm.Init}, {"XFIXES", xfixes.Init}, {"DAMAGE", damage.Init}} {
		if err := ext.init(c); err != nil {
			return fmt.Errorf("%s: %w: %w", ext.name, ErrUnsupported, err)
		}
	}
	// Both extensions refuse requests until the client states its version.
	if _, err := xfixes.QueryVersion(c, 5, 0).Reply(); err != nil {
		return fmt.Errorf("xfixes version: %w: %w", ErrUnsupported, err)
	}
	if _, err := damage.QueryVersion(c, 1, 1).Reply(); err != nil {
		return fmt.Errorf("damage version: %w: %w", ErrUnsupported, err)
	}

	// Owner-only: the segment holds screen contents. (An X server running
	// as another user than the agent cannot attach it; MIT-SHM is then
	// unsupported for us.)
	id, err := shm.Get(shm.IPC_PRIVATE, rect.Dx()*rect.Dy()*4, shm.IPC_CREAT|0o600)
	if err != nil {
		return fmt.Errorf("shmget: %w", err)
	}
	x.shmID = id
	if x.data, err = shm.At(id, 0, 0); err != nil {
		return fmt.Errorf("shmat: %w", err)
	}
	if x.seg, err = mshm.NewSegId(c); err != nil {
		return fmt.Errorf("shm segment id: %w", err)
	}
	if err := mshm.AttachChecked(c, x.seg, uint32(id), false).Check(); err != nil {
		return fmt.Errorf("attach shm: %w: %w", ErrUnsupported, err)
	}
	// Both sides are attached: mark the segment for removal now so it is
	// freed even if the process dies without Close.
	if err := shm.Rm(id); err != nil {
		return fmt.Errorf("shm rm: %w", err)
	}
	x.shmID = -1

	if x.parts, err = xfixes.NewRegionId(c); err != nil {
		return fmt.Errorf("region id: %w", err)
	}
	if err := xfixes.CreateRegionChecked(c, x.parts, nil).Check(); err != nil {
		return fmt.Errorf("create region: %w", err)
	}
	if x.dmg, err = damage.NewDamageId(c); err != nil {
		return fmt.Errorf("damage id: %w", err)
	}
	// NonEmpty: one event when the damaged region goes from empty to
	// non-empty, none while it stays so. Next empties it before each grab,
	// so there is one event per frame-worth of change, not one per drawing.
	if err := damage.CreateChecked(c, x.dmg, xproto.Drawable(x.root), damage.ReportLevelNonEmpty).Check(); err != nil {
		return fmt.Errorf("create damage: %w: %w", ErrUnsupported, err)
	}
	return nil
}

// checkFormat accepts the one layout the converter reads: 24-bit depth
// stored as 32-bit little-endian BGRX.
func checkFormat(setup *xproto.SetupInfo, screen *xproto.ScreenInfo) error {
	if setup.ImageByteOrder != xproto.ImageOrderLSBFirst {
		return fmt.Errorf("big-endian image order: %w", ErrUnsupported)
	}
	if screen.RootDepth != 24 && screen.RootDepth != 32 {
		return fmt.Errorf("root depth %d: %w", screen.RootDepth, ErrUnsupported)
	}
	for _, f := range setup.PixmapFormats {
		if f.Depth == screen.RootDepth {
			if f.BitsPerPixel != 32 {
				return fmt.Errorf("depth %d stored in %d bits: %w", f.Depth, f.BitsPerPixel, ErrUnsupported)
			}
			return nil
		}
	}
	return fmt.Errorf("no pixmap format for depth %d: %w", screen.RootDepth, ErrUnsupported)
}

// readEvents turns damage events into a wake-up for Next. It exits when
// the connection closes.
func (x *X11) readEvents() {
	defer close(x.done)
	for {
		ev, xerr := x.conn.WaitForEvent()
		switch {
		case ev == nil && xerr == nil:
			return
		case xerr != nil:
			x.log.Debug("x_error", "error", xerr.Error())
		default:
			if _, ok := ev.(damage.NotifyEvent); ok {
				select {
				case x.damaged <- struct{}{}:
				default:
				}
			}
		}
	}
}

// LastGrab is how long the last successful Next spent reading and
// converting pixels, without the time it waited for a change. Call it from
// the goroutine that calls Next.
func (x *X11) LastGrab() time.Duration { return x.grabTime }

// Bounds is the captured area in root-window coordinates.
func (x *X11) Bounds() image.Rectangle { return x.rect }

// Force makes the next (or the pending) Next return a complete fresh frame
// at once, even if nothing changed, e.g. after a keyframe request.
func (x *X11) Force() {
	select {
	case x.force <- struct{}{}:
	default:
	}
}

// Next returns the next frame. The first call returns at once; later calls
// block until the screen changed since the previous frame (or Force was
// called), and no sooner than 1/MaxFPS after it. Only the changed part of
// the image is re-read and converted.
//
// The image is owned by X11 and stays valid, unchanged, until the next
// successful call; an error leaves it as it was.
func (x *X11) Next(ctx context.Context) (*image.YCbCr, error) {
	full := !x.started
	for {
		if x.started && !full {
			select {
			case <-x.damaged:
			case <-x.force:
				full = true
			case <-x.done:
				return nil, ErrClosed
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if wait := x.minGap - time.Since(x.last); x.started && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-x.done:
				t.Stop()
				return nil, ErrClosed
			case <-ctx.Done():
				t.Stop()
				// Keep the wake-up for the next call: the change is unsent.
				if full {
					x.Force()
				} else {
					x.markDamaged()
				}
				return nil, ctx.Err()
			}
		}
		select {
		case <-x.force:
			full = true
		default:
		}
		t0 := time.Now()
		ok, err := x.capture(full)
		if err != nil {
			return nil, err
		}
		if ok {
			x.grabTime = time.Since(t0)
			x.started = true
			x.last = time.Now()
			return x.img, nil
		}
		// The change was outside our rectangle: wait for the next one.
	}
}

// capture repairs the damage and grabs what it covered (everything when
// full). It reports false when nothing inside the rectangle changed.
func (x *X11) capture(full bool) (bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return false, ErrClosed
	}
	area, err := x.repair()
	if err != nil {
		return false, err
	}
	if full {
		area = x.rect
	}
	if area.Empty() {
		return false, nil
	}
	return true, x.grab(area)
}

func (x *X11) markDamaged() {
	select {
	case x.damaged <- struct{}{}:
	default:
	}
}

// repair empties the damage record (so the next change raises a new event)
// and returns the part of our rectangle it covered, widened to even
// coordinates relative to the rectangle for 4:2:0.
func (x *X11) repair() (image.Rectangle, error) {
	damage.Subtract(x.conn, x.dmg, xfixes.RegionNone, x.parts)
	r, err := xfixes.FetchRegion(x.conn, x.parts).Reply()
	if err != nil {
		return image.Rectangle{}, x.connErr("fetch damage", err)
	}
	e := r.Extents
	area := image.Rect(int(e.X), int(e.Y), int(e.X)+int(e.Width), int(e.Y)+int(e.Height)).Intersect(x.rect)
	if area.Empty() {
		return image.Rectangle{}, nil
	}
	area = area.Sub(x.rect.Min)
	area.Min.X &^= 1
	area.Min.Y &^= 1
	area.Max.X += area.Max.X & 1
	area.Max.Y += area.Max.Y & 1
	return area.Add(x.rect.Min).Intersect(x.rect), nil
}

// grab copies area (root coordinates) through the shared segment and
// converts it into the same place of x.img.
func (x *X11) grab(area image.Rectangle) error {
	_, err := mshm.GetImage(x.conn, xproto.Drawable(x.root),
		int16(area.Min.X), int16(area.Min.Y), uint16(area.Dx()), uint16(area.Dy()),
		0xffffffff, xproto.ImageFormatZPixmap, x.seg, 0).Reply()
	if err != nil {
		return x.connErr("shm get image", err)
	}
	bgrxToI420(x.img, x.data, area.Dx()*4, area.Sub(x.rect.Min))
	return nil
}

func (x *X11) connErr(op string, err error) error {
	select {
	case <-x.done:
		return fmt.Errorf("%s: %w", op, ErrClosed)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// Close releases the X resources and waits for the event reader. It is
// idempotent and may run while Next blocks; that Next returns ErrClosed.
func (x *X11) Close() error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	x.teardown()
	x.mu.Unlock()
	<-x.done
	return nil
}

func (x *X11) teardown() {
	if x.dmg != 0 {
		damage.Destroy(x.conn, x.dmg)
	}
	if x.parts != 0 {
		xfixes.DestroyRegion(x.conn, x.parts)
	}
	if x.seg != 0 {
		mshm.Detach(x.conn, x.seg)
	}
	// A round trip so the requests above reach the server before we hang up.
	_, _ = xproto.GetInputFocus(x.conn).Reply()
	x.conn.Close()
	if x.data != nil {
		_ = shm.Dt(x.data)
		x.data = nil
	}
	if x.shmID >= 0 {
		_ = shm.Rm(x.shmID)
	}
}
