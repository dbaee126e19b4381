// Package platform assembles the agent for one operating system: which
// implementation serves each OS interface of the agent core. The core
// (package agent and below) knows no operating system; every OS service
// reaches it through agent.Config, support.Config and request.Config, and
// this package fills those in, in one file per OS:
//
//	platform_linux.go    X11 capture, robotgo input, zenity dialogs, sudoers
//	platform_windows.go  the Windows services as they are built (issue #17)
//	platform_darwin.go   nothing beyond the portable parts yet
//
// Each file defines the same names: DefaultPrompt, DefaultStateDir and
// DefaultElevateSocket, DefaultRequestSocket(stateDir), Displays(),
// Privileged(), the OS's Options with AddFlags, and assemble, which
// Assemble calls.
//
// Services a session cannot do without (screen capture, the encoder, the
// consent prompt) are required: Assemble fails naming each one missing, so
// `porthole-agent run` stops at start. The others (remote input, the
// desktop icon) are optional: their absence is logged at start.
// Services with one implementation per OS and no choice to make (local
// sockets, inventory facts, local accounts, elevation grants and the
// elevated-process watcher) are picked by the _GOOS.go files of their own
// packages (agent/localsock, agent/inventory, agent/accounts,
// agent/elevation).
package platform

import (
	"errors"
	"fmt"
	"log/slog"

	"porthole/agent"
	"porthole/agent/encode"
	"porthole/agent/support"
)

// Assemble wires this OS's services into cfg: the screen, encoder and
// input of support sessions and, when desktop is set, the desktop dialogs
// (else the caller provides cfg.Support.Asker, e.g. consent.Terminal). It
// returns an error naming every required service this endpoint lacks.
func Assemble(cfg *agent.Config, o Options, desktop bool, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &check{log: log}
	cfg.Support.NewEncoder = newEncoder
	c.require("video encoder", checkEncoder())
	assemble(cfg, o, desktop, c, log)
	return c.err()
}

// check collects, while one OS's services are assembled, what this
// endpoint lacks.
type check struct {
	log     *slog.Logger
	missing []error
}

// require records a required service that could not be built; it reports
// whether service is available (err == nil).
func (c *check) require(service string, err error) bool {
	if err == nil {
		return true
	}
	c.missing = append(c.missing, fmt.Errorf("%s: %w", service, err))
	return false
}

// optional logs an optional service that could not be built; it reports
// whether service is available.
func (c *check) optional(service string, err error) bool {
	if err == nil {
		return true
	}
	c.log.Warn("service unavailable on this endpoint", "service", service, "err", err)
	return false
}

// err is nil when every required service was built, else one error naming
// each missing one.
func (c *check) err() error {
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

// checkEncoder builds and frees a small encoder: the construct-time check
// that this binary can encode video at all.
func checkEncoder() error {
	e, err := newEncoder(support.EncoderConfig{Width: 64, Height: 64, FPS: 30, BitrateKbps: 100, Threads: 1})
	if err != nil {
		return err
	}
	return e.Close()
}
