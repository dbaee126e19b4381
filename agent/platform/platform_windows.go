package platform

// Windows (issue #17): screen capture (capture.Screens: DXGI Desktop
// Duplication, else GDI, chosen at run time), input (input.SendInput) and
// the desktop dialogs (consent.Dialogs: MessageBox and dialog windows), in
// the process that runs in the user's session, where the desktop is: the
// agent itself when run by hand (--helper=off), else the helper the
// service starts there (helper_windows.go), which assembles them so too.
// That process is made per-monitor DPI aware at start, so that monitors,
// capture and input all work in physical pixels.

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"

	"porthole/agent"
	"porthole/agent/capture"
	"porthole/agent/consent"
	"porthole/agent/input"
	"porthole/agent/support"
	"porthole/internal/wire"
)

// Defaults of porthole-agent: the --prompt value that shows desktop
// dialogs, and the elevation pipe.
const (
	DefaultPrompt        = "dialog"
	DefaultElevateSocket = `\\.\pipe\porthole-agent-elevate`
)

// DefaultStateDir is the state directory under %ProgramData%.
var DefaultStateDir = filepath.Join(os.Getenv("ProgramData"), "Porthole Agent")

// DefaultRequestSocket is where the agent of stateDir listens for
// `porthole-agent request-support`.
func DefaultRequestSocket(string) string { return `\\.\pipe\porthole-agent-request` }

// Displays lists the monitors of this session (for enrollment's inventory).
func Displays() func() ([]wire.Display, error) {
	dpiAware()
	return capture.Displays
}

// Privileged reports whether the agent may grant admin rights: it needs
// an elevated administrator or SYSTEM (the service).
func Privileged() bool { return windows.GetCurrentProcessToken().IsElevated() }

// Options are the settings of the services.
type Options struct {
	// Helper is where capture, input and dialogs run: HelperOff,
	// HelperSession (the service's default) or HelperSpawn
	// (helper_windows.go).
	Helper string
}

// AddFlags registers o's fields as flags of fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Helper, "helper", HelperOff, "where capture, input and dialogs run: off (this process), session (a helper in the console user's session; the service's default) or spawn (a helper child process)")
}

func assemble(cfg *agent.Config, o Options, desktop bool, c *check, log *slog.Logger) {
	if o.Helper != "" && o.Helper != HelperOff {
		c.require("helper", assembleHelper(cfg, o, desktop, log))
		return
	}
	dpiAware()
	// One Screens for the agent: it remembers a capture method that cannot
	// work here (DXGI under Wine), so each session does not try it again.
	screens := capture.NewScreens(log)
	cfg.Displays = capture.Displays
	cfg.CaptureMethod = screens.Method
	cfg.Support.OpenSource = func(d wire.Display, maxFPS int, log *slog.Logger) (support.Source, error) {
		s, err := screens.Open(d, capture.Options{MaxFPS: maxFPS, Logger: log})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	cfg.Support.NewInjector = func(d []wire.Display, viewOnly bool) (support.Injector, error) {
		s, err := input.NewSendInput(input.Config{Displays: d, ViewOnly: viewOnly, Logger: log})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	_, err := capture.Displays()
	c.require("screen capture", err)
	if desktop {
		d, err := consent.NewDialogs(log)
		if c.require("consent prompt", err) {
			cfg.Support.Asker, cfg.Support.Indicator = d, d
			cfg.Request.Form, cfg.Request.Notify = d, d
		}
	}
	c.optional("\"Request support\" desktop icon", fmt.Errorf("not yet built for Windows: %w", errors.ErrUnsupported))
}

var procSetProcessDpiAwarenessContext = windows.NewLazySystemDLL("user32.dll").NewProc("SetProcessDpiAwarenessContext")

// dpiAware makes the process per-monitor DPI aware (v2), as a manifest
// would: without it Windows scales a scaled monitor's coordinates, and
// capture and input would miss pixels. It is a process-wide setting, so it
// is made here, where the process is assembled, and not by the capture or
// input packages. Windows before 10 (1703) lacks the call: nothing happens.
func dpiAware() {
	const perMonitorAwareV2 = ^uintptr(3) // DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 (-4)
	if procSetProcessDpiAwarenessContext.Find() == nil {
		_, _, _ = procSetProcessDpiAwarenessContext.Call(perMonitorAwareV2)
	}
}
