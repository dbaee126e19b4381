package testpattern

import (
	"context"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"math/bits"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// Mode chooses how much of the screen changes per frame.
type Mode int

const (
	// ModeSmall moves a BoxSize box across the motion band: a small damaged
	// region per frame, like a typical UI change. It is the default.
	ModeSmall Mode = iota
	// ModeFull scrolls stripes over the whole motion band: every pixel below
	// MotionTop changes every frame, the encoder's worst realistic case.
	ModeFull
)

// String returns the name ParseMode accepts.
func (m Mode) String() string {
	switch m {
	case ModeSmall:
		return "small"
	case ModeFull:
		return "full"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode maps "small" and "full" (also "full-screen") to a Mode, for flags.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "small", "":
		return ModeSmall, nil
	case "full", "full-screen":
		return ModeFull, nil
	}
	return 0, fmt.Errorf("%w: mode %q (want small or full)", ErrOptions, s)
}

// Options configures Run.
type Options struct {
	// Display is the X display to paint on, e.g. ":12". Required: the painter
	// never falls back to $DISPLAY, so a test cannot paint on the wrong screen.
	Display string
	// Rate is frames per second, 1..240; zero means 30.
	Rate int
	// Mode is ModeSmall (default) or ModeFull.
	Mode Mode
	// Clock gives the time that goes into each frame stamp; nil means time.Now.
	Clock func() time.Time
	// Logger receives start/stop lines; nil discards them.
	Logger *slog.Logger
}

// Run opens a window covering the default screen of o.Display and paints the
// layout described in the package comment, o.Rate times per second, until ctx
// ends; then it returns nil. No window manager runs under Xvfb, so the window
// is override-redirect, mapped and raised by itself.
//
// Each frame: read the stamp from o.Clock, send only the rectangles that change
// (the stamp bits that flipped, the moving element), then make a round trip so
// that the server has drawn them before the next tick. The stamp is therefore
// the time just before the draw, and a reader's now − stamp includes the draw.
// An Expose (the window was covered) triggers a full repaint.
func Run(ctx context.Context, o Options) error {
	p, err := newPainter(o)
	if err != nil {
		return err
	}
	defer p.close()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("component", "testpattern")
	log.Info("testpattern_started", "display", o.Display, "width", p.width, "height", p.height,
		"rate", p.rate, "mode", p.mode.String())
	defer func() { log.Info("testpattern_stopped", "display", o.Display, "frames", p.frame) }()

	if err := p.paint(true); err != nil {
		return err
	}
	tick := time.NewTicker(time.Second / time.Duration(p.rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := p.paint(false); err != nil {
				return err
			}
		}
	}
}

// painter holds one X connection and its window; it is used by one goroutine.
type painter struct {
	conn          *xgb.Conn
	win           xproto.Window
	width, height int
	rate          int
	mode          Mode
	clock         func() time.Time
	gcs           map[color.RGBA]xproto.Gcontext
	pixel         func(color.RGBA) uint32
	stamp         uint32             // stamp shown on screen
	frame         uint64             // frames painted so far
	exposed       bool               // an Expose arrived: repaint everything
	rects         []xproto.Rectangle // reused by fill
}

// newPainter validates o, connects, and creates and maps the window.
func newPainter(o Options) (*painter, error) {
	if o.Display == "" {
		return nil, fmt.Errorf("%w: empty display", ErrOptions)
	}
	if o.Rate == 0 {
		o.Rate = 30
	}
	if o.Rate < 1 || o.Rate > 240 {
		return nil, fmt.Errorf("%w: rate %d (want 1..240)", ErrOptions, o.Rate)
	}
	if o.Mode != ModeSmall && o.Mode != ModeFull {
		return nil, fmt.Errorf("%w: mode %v", ErrOptions, o.Mode)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	conn, err := xgb.NewConnDisplay(o.Display)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrConnect, o.Display, err)
	}
	p := &painter{conn: conn, rate: o.Rate, mode: o.Mode, clock: o.Clock, gcs: map[color.RGBA]xproto.Gcontext{}}
	if err := p.setup(); err != nil {
		conn.Close()
		return nil, err
	}
	return p, nil
}

// setup creates the window and one graphics context per layout colour.
func (p *painter) setup() error {
	screen := xproto.Setup(p.conn).DefaultScreen(p.conn)
	p.width, p.height = int(screen.WidthInPixels), int(screen.HeightInPixels)
	if p.width < MinWidth || p.height < MinHeight {
		return fmt.Errorf("%w: %dx%d, need %dx%d", ErrScreenTooSmall, p.width, p.height, MinWidth, MinHeight)
	}
	pixel, err := pixelFunc(screen)
	if err != nil {
		return err
	}
	p.pixel = pixel
	win, err := xproto.NewWindowId(p.conn)
	if err != nil {
		return fmt.Errorf("%w: window id: %w", ErrX, err)
	}
	p.win = win
	// Value order follows the mask bits: BackPixel, OverrideRedirect, EventMask.
	err = xproto.CreateWindowChecked(p.conn, screen.RootDepth, win, screen.Root, 0, 0,
		uint16(p.width), uint16(p.height), 0, xproto.WindowClassInputOutput, screen.RootVisual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{pixel(Background), 1, xproto.EventMaskExposure}).Check()
	if err != nil {
		return fmt.Errorf("%w: create window: %w", ErrX, err)
	}
	colors := []color.RGBA{Background, BoxColor, stampOne, stampZero}
	for _, pt := range Patches(p.width, p.height) {
		colors = append(colors, pt.Color)
	}
	colors = append(colors, stripeColors[:]...)
	for _, c := range colors {
		if _, ok := p.gcs[c]; ok {
			continue
		}
		gc, err := xproto.NewGcontextId(p.conn)
		if err != nil {
			return fmt.Errorf("%w: gc id: %w", ErrX, err)
		}
		// GraphicsExposures off: fills never generate NoExpose events.
		xproto.CreateGC(p.conn, gc, xproto.Drawable(win), xproto.GcForeground|xproto.GcGraphicsExposures,
			[]uint32{pixel(c), 0})
		p.gcs[c] = gc
	}
	xproto.MapWindow(p.conn, win)
	xproto.ConfigureWindow(p.conn, win, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove})
	return p.sync()
}

// close releases the connection; the server frees the window and GCs with it.
func (p *painter) close() {
	p.conn.Close()
}

// paint draws one frame: everything when all is set, else only what changed.
func (p *painter) paint(all bool) error {
	if p.exposed {
		all = true
		p.exposed = false
	}
	next := StampOf(p.clock())
	var fills []fill
	if all {
		fills = staticFills(p.width, p.height)
	}
	fills = append(fills, stampFills(p.stamp, next, all)...)
	switch p.mode {
	case ModeSmall:
		fills = append(fills, boxFills(p.width, p.frame, all)...)
	case ModeFull:
		fills = append(fills, stripeFills(p.width, p.height, p.frame)...)
	}
	for _, f := range fills {
		p.fill(f)
	}
	if err := p.sync(); err != nil {
		return err
	}
	p.stamp = next
	p.frame++
	return nil
}

// fill sends one PolyFillRectangle for f (none when f is empty).
func (p *painter) fill(f fill) {
	if len(f.rects) == 0 {
		return
	}
	p.rects = p.rects[:0]
	for _, r := range f.rects {
		if r.Empty() {
			continue
		}
		p.rects = append(p.rects, xproto.Rectangle{X: int16(r.Min.X), Y: int16(r.Min.Y),
			Width: uint16(r.Dx()), Height: uint16(r.Dy())})
	}
	if len(p.rects) > 0 {
		xproto.PolyFillRectangle(p.conn, xproto.Drawable(p.win), p.gcs[f.color], p.rects)
	}
}

// sync waits until the server has processed every request sent so far (a
// GetInputFocus round trip), then reports any X error those requests caused
// and notes any Expose for the next frame.
func (p *painter) sync() error {
	if _, err := xproto.GetInputFocus(p.conn).Reply(); err != nil {
		return fmt.Errorf("%w: sync: %w", ErrX, err)
	}
	for {
		ev, xerr := p.conn.PollForEvent()
		if xerr != nil {
			return fmt.Errorf("%w: %v", ErrX, xerr)
		}
		if ev == nil {
			return nil
		}
		if _, ok := ev.(xproto.ExposeEvent); ok {
			p.exposed = true
		}
	}
}

// pixelFunc maps colours to pixel values of the root visual, which must be
// TrueColor (Xvfb's default at depth 16, 24 or 32).
func pixelFunc(screen *xproto.ScreenInfo) (func(color.RGBA) uint32, error) {
	for _, d := range screen.AllowedDepths {
		for _, v := range d.Visuals {
			if v.VisualId != screen.RootVisual {
				continue
			}
			if v.Class != xproto.VisualClassTrueColor {
				return nil, fmt.Errorf("%w: class %d", ErrVisual, v.Class)
			}
			rm, gm, bm := v.RedMask, v.GreenMask, v.BlueMask
			return func(c color.RGBA) uint32 {
				return channel(c.R, rm) | channel(c.G, gm) | channel(c.B, bm)
			}, nil
		}
	}
	return nil, fmt.Errorf("%w: root visual %d not found", ErrVisual, screen.RootVisual)
}

// channel places an 8-bit value in the bits of mask, scaled to the mask's width.
func channel(v uint8, mask uint32) uint32 {
	if mask == 0 {
		return 0
	}
	shift := bits.TrailingZeros32(mask)
	width := bits.OnesCount32(mask)
	var x uint32
	if width >= 8 {
		x = uint32(v) << (width - 8)
	} else {
		x = uint32(v) >> (8 - width)
	}
	return (x << shift) & mask
}
