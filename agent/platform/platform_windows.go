package platform

// Windows (issue #17): the desktop dialogs (consent.Dialogs: MessageBox
// and dialog windows in the user's session); the other services are being
// built. Until each lands, its constructor in the service package's
// _windows.go file says so, and run fails at start for a required one. When
// one lands, wire it here as platform_linux.go does (cfg.Displays,
// cfg.Support.OpenSource, cfg.Support.NewInjector) and drop its check.

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

// Displays is nil: no display enumeration until capture is built.
func Displays() func() ([]wire.Display, error) { return nil }

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
	_, err := capture.NewScreens(log)
	c.require("screen capture", err)
	_, err = input.NewSendInput(input.Config{})
	c.optional("remote input", err)
	if desktop {
		d, err := consent.NewDialogs(log)
		if c.require("consent prompt", err) {
			cfg.Support.Asker, cfg.Support.Indicator = d, d
			cfg.Request.Form, cfg.Request.Notify = d, d
		}
	}
	c.optional("\"Request support\" desktop icon", fmt.Errorf("not yet built for Windows: %w", errors.ErrUnsupported))
}
