// Package capture reads the endpoint's screen: display enumeration, and
// frame sources that feed the video encoder with I420 frames.
//
// Every source follows one contract (agent/video's source): the first Next
// returns at once, later ones block until the screen changed, no sooner
// than 1/MaxFPS after the previous frame, and only the changed part is
// converted into a reused image, so a static screen costs little or nothing.
//
// Linux: displays are listed through kbinani/screenshot, which also takes
// one-off stills (simple, opens a connection per call, ~80 ms at 1080p);
// video uses X11 (x11_linux.go), which keeps one connection and one MIT-SHM
// segment and only wakes when XDamage reports a change.
//
// Windows: Displays lists the monitors in virtual-desktop coordinates
// (EnumDisplayMonitors). Screens opens a Screen (screen.go) over one of two
// grabbers, chosen at run time: DXGI Desktop Duplication (dxgi_windows.go;
// dirty rectangles and the pointer shape from the compositor) where it
// works, else GDI (gdi_windows.go; BitBlt into a persistent DIB section,
// polled, with a row/column diff against the previous frame so an
// unchanged screen is never converted or encoded). Both draw the cursor
// into the frame. Screens remembers a method that cannot work on this
// machine (DXGI under Wine, in an RDP session of old systems…), so the
// next session does not pay for trying it again.
//
// The agent core never calls this package: agent/platform's file for each
// OS wires it into the session as support.SourceFunc.
package capture

import "log/slog"

// The capture methods, as reported in the inventory.
const (
	MethodX11  = "x11-shm" // X11 MIT-SHM, woken by XDamage (Linux)
	MethodDXGI = "dxgi"    // DXGI Desktop Duplication (Windows 8 and later)
	MethodGDI  = "gdi"     // GDI BitBlt, polled (Windows; Wine)
)

// Options tunes a frame source. The zero value is ready to use.
type Options struct {
	// MaxFPS caps how often Next returns a frame, however fast the screen
	// changes. Zero means 30.
	MaxFPS int
	// Logger receives X protocol errors and grabber diagnostics at debug
	// level. Nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxFPS <= 0 {
		o.MaxFPS = 30
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
