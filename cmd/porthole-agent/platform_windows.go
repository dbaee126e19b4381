package main

// Windows (issue #17): the services are being built. Until each lands, its
// constructor in the service package's _windows.go file says so, and run
// fails at start for a required one. When one lands, wire it here as
// platform_linux.go does (cfg.Displays, cfg.Support.OpenSource,
// cfg.Support.NewInjector, the dialogs) and drop its check.

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

const (
	defaultPrompt        = "dialog"
	defaultElevateSocket = `\\.\pipe\porthole-agent-elevate`
)

var defaultStateDir = filepath.Join(os.Getenv("ProgramData"), "Porthole Agent")

func defaultRequestSocket(string) string { return `\\.\pipe\porthole-agent-request` }

// displays: none until capture is built.
func displays() func() ([]wire.Display, error) { return nil }

// privileged: granting admin rights needs an elevated administrator or
// SYSTEM (the service).
func privileged() bool { return windows.GetCurrentProcessToken().IsElevated() }

type platform struct{}

func addPlatformFlags(*flag.FlagSet) *platform { return &platform{} }

func (p *platform) assemble(cfg *agent.Config, desktop bool, c *startCheck, log *slog.Logger) {
	_, err := capture.NewScreens(log)
	c.require("screen capture", err)
	_, err = input.NewSendInput(input.Config{})
	c.optional("remote input", err)
	if desktop {
		_, err := consent.NewDialogs(log)
		c.require("consent prompt", err)
	}
	c.optional("\"Request support\" desktop icon", fmt.Errorf("not yet built for Windows: %w", errors.ErrUnsupported))
}
