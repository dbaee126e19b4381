package capture

import (
	"fmt"
	"image"
	"io"
	"log"
	"sync"

	"github.com/jezek/xgb"
	"github.com/kbinani/screenshot"

	"porthole/internal/wire"
)

// quietXGB silences xgb's package logger, which otherwise prints
// "Could not get authority info" on every connection to a display without
// an Xauthority entry (Xvfb, root services). xgb offers only a package
// variable for this, so it is set once, before this package's first
// connection.
var quietXGB = sync.OnceFunc(func() { xgb.Logger = log.New(io.Discard, "", 0) })

// Displays lists the monitors of the display named by $DISPLAY. Index 0 is
// the primary monitor and its origin is (0,0); the others are relative to it.
func Displays() ([]wire.Display, error) {
	quietXGB()
	n := screenshot.NumActiveDisplays()
	if n <= 0 {
		return nil, ErrNoDisplay
	}
	out := make([]wire.Display, 0, n)
	for i := range n {
		r := screenshot.GetDisplayBounds(i)
		if r.Empty() {
			return nil, fmt.Errorf("display %d bounds: %w", i, ErrNoDisplay)
		}
		out = append(out, wire.Display{
			Index: i, X: r.Min.X, Y: r.Min.Y, Width: r.Dx(), Height: r.Dy(), Primary: i == 0,
		})
	}
	return out, nil
}

// Snapshot captures one monitor of $DISPLAY as RGBA. It opens and closes
// its own X connection, so it suits occasional stills, not video.
func Snapshot(display int) (*image.RGBA, error) {
	quietXGB()
	if display < 0 || display >= screenshot.NumActiveDisplays() {
		return nil, fmt.Errorf("snapshot display %d: %w", display, ErrNoDisplay)
	}
	img, err := screenshot.CaptureDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("snapshot display %d: %w", display, err)
	}
	return img, nil
}
