package main

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

const (
	defaultPrompt        = "dialog"
	defaultStateDir      = "/Library/Application Support/Porthole Agent"
	defaultElevateSocket = elevsock.DefaultPath
)

func defaultRequestSocket(stateDir string) string { return filepath.Join(stateDir, "request.sock") }

// displays: none until capture is built.
func displays() func() ([]wire.Display, error) { return nil }

func privileged() bool { return os.Geteuid() == 0 }

type platform struct{}

func addPlatformFlags(*flag.FlagSet) *platform { return &platform{} }

func (p *platform) assemble(_ *agent.Config, desktop bool, c *startCheck, _ *slog.Logger) {
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
