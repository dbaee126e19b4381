// Package capture reads the endpoint's screen: display enumeration, and
// frame sources that feed the video encoder with I420 frames.
//
// Linux: displays are listed through kbinani/screenshot, which also takes
// one-off stills (simple, opens a connection per call, ~80 ms at 1080p);
// video uses X11 (x11_linux.go), which keeps one connection and one MIT-SHM
// segment and only wakes when XDamage reports a change, so a static screen
// costs no CPU. Windows (GDI/DXGI) is not yet built (screens_windows.go).
// The agent core never calls this package: cmd/porthole-agent's platform
// file for each OS wires it into the session as support.SourceFunc.
package capture

import "log/slog"

// Options tunes a frame source (X11 on Linux). The zero value is ready
// to use.
type Options struct {
	// MaxFPS caps how often Next returns a frame, however fast the screen
	// changes. Zero means 30.
	MaxFPS int
	// Logger receives X protocol errors at debug level. Nil discards.
	Logger *slog.Logger
}
