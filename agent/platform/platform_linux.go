package platform

// Linux: the session's X display (the seat's DISPLAY and XAUTHORITY) for
// capture (X11 MIT-SHM + XDamage), input (robotgo/XTEST) and dialogs
// (zenity); temporary admin rights through sudoers drop-ins; the "Request
// support" launcher as a freedesktop entry.

import (
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"

	"porthole/agent"
	"porthole/agent/capture"
	"porthole/agent/consent"
	"porthole/agent/elevsock"
	"porthole/agent/input"
	"porthole/agent/support"
	"porthole/internal/wire"
)

// Defaults of porthole-agent: the --prompt value that shows desktop
// dialogs, the state directory and the elevation socket.
const (
	DefaultPrompt        = "zenity"
	DefaultStateDir      = "/var/lib/porthole-agent"
	DefaultElevateSocket = elevsock.DefaultPath
)

// DefaultRequestSocket is where the agent of stateDir listens for
// `porthole-agent request-support`.
func DefaultRequestSocket(stateDir string) string { return filepath.Join(stateDir, "request.sock") }

// Displays lists the monitors of $DISPLAY (for enrollment's inventory).
func Displays() func() ([]wire.Display, error) { return capture.Displays }

// Privileged reports whether the agent may grant admin rights: it needs
// root (the service runs as root).
func Privileged() bool { return os.Geteuid() == 0 }

// Options are the Linux settings of the services (run's Linux-only flags).
type Options struct {
	// Display and XAuthority name the session's X display (the seat's
	// DISPLAY and XAUTHORITY) for capture, input and dialogs.
	Display, XAuthority string
	// SudoersDir is where temporary sudoers drop-ins go.
	SudoersDir string
	// DesktopDir receives the "Request support" launcher.
	DesktopDir string
}

// AddFlags registers o's fields as flags of fs, with their defaults.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Display, "display", os.Getenv("DISPLAY"), "X display to share (the seat's DISPLAY)")
	fs.StringVar(&o.XAuthority, "xauthority", os.Getenv("XAUTHORITY"), "X authority file for that display")
	fs.StringVar(&o.SudoersDir, "sudoers-dir", "/etc/sudoers.d", "where temporary sudoers drop-ins go")
	fs.StringVar(&o.DesktopDir, "desktop-dir", defaultDesktopDir(), "where the \"Request support\" launcher goes when the desktop icon setting is on")
}

// assemble wires the Linux services into cfg. Nothing here can fail at
// start but the zenity dialogs: the display is first used by a session.
func assemble(cfg *agent.Config, o Options, desktop bool, c *check, log *slog.Logger) {
	display := o.Display
	cfg.Displays = capture.Displays
	cfg.CaptureMethod = func() string { return capture.MethodX11 }
	cfg.Support.OpenSource = func(d wire.Display, maxFPS int, log *slog.Logger) (support.Source, error) {
		x, err := capture.NewX11(display, capture.DisplayRect(d), capture.Options{MaxFPS: maxFPS, Logger: log})
		if err != nil {
			return nil, err
		}
		return x, nil
	}
	cfg.Support.NewInjector = func(d []wire.Display, viewOnly bool) (support.Injector, error) {
		r, err := input.NewRobot(input.Config{Display: display, Displays: d, ViewOnly: viewOnly, Logger: log})
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	if desktop {
		z, err := consent.NewZenity(consent.ZenityConfig{Display: display, XAuthority: o.XAuthority, Log: log})
		if c.require("consent prompt", err) {
			cfg.Support.Asker, cfg.Support.Indicator = z, z
			cfg.Request.Form, cfg.Request.Notify = z, z
		}
	}
	cfg.Request.DesktopDir = o.DesktopDir
	if cfg.Request.DesktopDir == "" {
		c.optional("\"Request support\" desktop icon", errors.New("no applications directory: set --desktop-dir"))
	}
	if cfg.Elevation != nil {
		cfg.Elevation.Manager.SudoersDir = o.SudoersDir
	}
}

// defaultDesktopDir is the agent user's XDG applications directory.
func defaultDesktopDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "applications")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "applications")
	}
	return ""
}

// inProcess is o for `porthole-agent helper`: this OS has no separate
// helper, so it is o.
func (o Options) inProcess() Options { return o }
