package platform

// macOS: only the portable parts are built. Screen capture and the desktop
// dialogs are required and missing, so run fails at start (use --prompt
// terminal to see only what else is missing); remote input is optional.
// Break glass has an untested dscl implementation (agent/accounts); with
// elevation on (the default as root) agent.New fails because elevated
// processes cannot be recorded on macOS yet: run with --elevation=false.

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"porthole/agent"
	"porthole/agent/elevsock"
	"porthole/internal/wire"
)

// Defaults of porthole-agent: the --prompt value that shows desktop
// dialogs, the state directory and the elevation socket.
const (
	DefaultPrompt        = "dialog"
	DefaultStateDir      = "/Library/Application Support/Porthole Agent"
	DefaultElevateSocket = elevsock.DefaultPath
)

// DefaultRequestSocket is where the agent of stateDir listens for
// `porthole-agent request-support`.
func DefaultRequestSocket(stateDir string) string { return filepath.Join(stateDir, "request.sock") }

// Displays is nil: no display enumeration until capture is built.
func Displays() func() ([]wire.Display, error) { return nil }

// Privileged reports whether the agent runs as root.
func Privileged() bool { return os.Geteuid() == 0 }

// Options are the settings of the services; none yet.
type Options struct{}

// AddFlags registers o's fields as flags of fs: none yet.
func (o *Options) AddFlags(*flag.FlagSet) {}

func assemble(_ *agent.Config, _ Options, desktop bool, c *check, _ *slog.Logger) {
	c.require("screen capture", notOnMacOS("screen capture"))
	c.optional("remote input", notOnMacOS("remote input"))
	if desktop {
		c.require("consent prompt", notOnMacOS("desktop dialogs"))
	}
	c.optional("\"Request support\" desktop icon", notOnMacOS("the desktop icon"))
}

// notOnMacOS is the construct-time error of a service macOS does not have.
func notOnMacOS(service string) error {
	return fmt.Errorf("%s is not supported on macOS yet: %w", service, errors.ErrUnsupported)
}

// inProcess is o for `porthole-agent helper`: this OS has no separate
// helper, so it is o.
func (o Options) inProcess() Options { return o }
