package main

// Linux: the session's X display (the seat's DISPLAY and XAUTHORITY) for
// capture (X11 MIT-SHM + XDamage), input (robotgo/XTEST) and dialogs
// (zenity); temporary admin rights through sudoers drop-ins; the "Request
// support" launcher as a freedesktop entry.

import (
	"errors"
	"flag"
	"image"
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

const (
	defaultPrompt        = "zenity"
	defaultStateDir      = "/var/lib/porthole-agent"
	defaultElevateSocket = elevsock.DefaultPath
)

func defaultRequestSocket(stateDir string) string { return filepath.Join(stateDir, "request.sock") }

// displays lists the monitors of $DISPLAY.
func displays() func() ([]wire.Display, error) { return capture.Displays }

// privileged: granting admin rights needs root (the service runs as root).
func privileged() bool { return os.Geteuid() == 0 }

type platform struct {
	display, xauth, sudoersDir, desktopDir *string
}

func addPlatformFlags(fs *flag.FlagSet) *platform {
	return &platform{
		display:    fs.String("display", os.Getenv("DISPLAY"), "X display to share (the seat's DISPLAY)"),
		xauth:      fs.String("xauthority", os.Getenv("XAUTHORITY"), "X authority file for that display"),
		sudoersDir: fs.String("sudoers-dir", "/etc/sudoers.d", "where temporary sudoers drop-ins go"),
		desktopDir: fs.String("desktop-dir", defaultDesktopDir(), "where the \"Request support\" launcher goes when the desktop icon setting is on"),
	}
}

// assemble wires the Linux services into cfg. Nothing here can fail at
// start but the zenity dialogs: the display is first used by a session.
func (p *platform) assemble(cfg *agent.Config, desktop bool, c *startCheck, log *slog.Logger) {
	display := *p.display
	cfg.Displays = capture.Displays
	cfg.Support.OpenSource = func(d wire.Display, maxFPS int, log *slog.Logger) (support.Source, error) {
		x, err := capture.NewX11(display, displayRect(d), capture.Options{MaxFPS: maxFPS, Logger: log})
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
		z, err := consent.NewZenity(consent.ZenityConfig{Display: display, XAuthority: *p.xauth, Log: log})
		if c.require("consent prompt", err) {
			cfg.Support.Asker, cfg.Support.Indicator = z, z
			cfg.Request.Form, cfg.Request.Notify = z, z
		}
	}
	cfg.Request.DesktopDir = *p.desktopDir
	if cfg.Request.DesktopDir == "" {
		c.optional("\"Request support\" desktop icon", errors.New("no applications directory: set --desktop-dir"))
	}
	if cfg.Elevation != nil {
		cfg.Elevation.Manager.SudoersDir = *p.sudoersDir
	}
}

// displayRect is display d's area in the coordinates of the X screen.
func displayRect(d wire.Display) image.Rectangle {
	return image.Rect(d.X, d.Y, d.X+d.Width, d.Y+d.Height)
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
