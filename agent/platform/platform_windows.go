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

// Options are the settings of the services; none yet.
type Options struct{}

// AddFlags registers o's fields as flags of fs: none yet.
func (o *Options) AddFlags(*flag.FlagSet) {}

func assemble(cfg *agent.Config, _ Options, desktop bool, c *check, log *slog.Logger) {
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
