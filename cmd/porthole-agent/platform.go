package main

// The agent core (package agent and below) knows no operating system: every
// OS service reaches it through the small interfaces and factory functions
// of agent.Config, support.Config and request.Config. Which implementation
// serves which interface is decided here, in one file per OS:
//
//	platform_linux.go    X11 capture, robotgo input, zenity dialogs, sudoers
//	platform_windows.go  the Windows services as they are built (issue #17)
//	platform_darwin.go   nothing beyond the portable parts yet
//
// Each defines the same small set of names used by main.go:
//
//	defaultPrompt, defaultStateDir, defaultElevateSocket  consts
//	defaultRequestSocket(stateDir string) string
//	displays() func() ([]wire.Display, error)   // nil: none to enumerate
//	privileged() bool                           // root / elevated administrator
//	type platform; addPlatformFlags(*flag.FlagSet) *platform
//	(*platform).assemble(cfg *agent.Config, desktop bool, c *startCheck, log *slog.Logger)
//
// Services that a session cannot do without (screen capture, the encoder,
// the consent prompt) are required: run fails at start naming each one
// missing. The others (remote input, desktop notices, the launcher) are
// optional: their absence is logged at start and each use says why.

import (
	"errors"
	"fmt"
	"log/slog"

	"porthole/agent/encode"
	"porthole/agent/support"
)

// startCheck collects, while one OS's services are assembled, what this
// endpoint lacks.
type startCheck struct {
	log     *slog.Logger
	missing []error
}

// require records a required service that could not be built; it
// reports whether service is available (err == nil).
func (c *startCheck) require(service string, err error) bool {
	if err == nil {
		return true
	}
	c.missing = append(c.missing, fmt.Errorf("%s: %w", service, err))
	return false
}

// optional logs an optional service that could not be built; it reports
// whether service is available.
func (c *startCheck) optional(service string, err error) bool {
	if err == nil {
		return true
	}
	c.log.Warn("service unavailable on this endpoint", "service", service, "err", err)
	return false
}

// err is nil when every required service was built, else one error naming
// each missing one.
func (c *startCheck) err() error {
	if len(c.missing) == 0 {
		return nil
	}
	return fmt.Errorf("cannot run on this endpoint: %w", errors.Join(c.missing...))
}

// newEncoder is the encoder of every OS: libvpx VP8 (without cgo it fails
// with encode.ErrNotBuilt).
func newEncoder(c support.EncoderConfig) (support.Encoder, error) {
	e, err := encode.NewVP8(encode.Config{Width: c.Width, Height: c.Height, FPS: c.FPS, BitrateKbps: c.BitrateKbps, Threads: c.Threads})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// checkEncoder builds and frees a small encoder: run's construct-time check
// that this binary can encode video at all.
func checkEncoder() error {
	e, err := newEncoder(support.EncoderConfig{Width: 64, Height: 64, FPS: 30, BitrateKbps: 100, Threads: 1})
	if err != nil {
		return err
	}
	return e.Close()
}
