package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"porthole/agent"
	"porthole/agent/helper"
	"porthole/agent/localsock"
)

// Where capture, input and dialogs run on Windows (Options.Helper).
const (
	// HelperOff: in the agent's own process (run by hand in a session).
	HelperOff = "off"
	// HelperSession: in a helper the service starts in the console user's
	// session (the service runs in session 0, which has no desktop).
	HelperSession = "session"
	// HelperSpawn: in a helper started as a plain child process, as the
	// agent's own user: the same pipe and protocol, testable under Wine.
	HelperSpawn = "spawn"
)

// inProcess is o for the helper itself: everything in its own process.
func (o Options) inProcess() Options {
	o.Helper = HelperOff
	return o
}

// assembleHelper wires the core's capture, input and dialogs to the
// helper, and adds the supervisor that keeps one running to the agent's
// services. Whether the helper can capture or show dialogs is known only
// once it runs in a session (nobody may be logged on when the service
// starts): it logs what it lacks, and sessions end with the reason.
func assembleHelper(cfg *agent.Config, o Options, desktop bool, log *slog.Logger) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var l helper.Launcher
	switch o.Helper {
	case HelperSession:
		l = helper.NewSessionLauncher()
	case HelperSpawn:
		sid, err := localsock.SelfSID()
		if err != nil {
			return err
		}
		l = helper.Spawn{SID: sid}
	default:
		return fmt.Errorf("--helper %q: want %s, %s or %s", o.Helper, HelperSession, HelperSpawn, HelperOff)
	}
	hub := &helper.Hub{}
	cfg.Displays = hub.Displays
	cfg.CaptureMethod = hub.CaptureMethod
	cfg.Support.RunVideo = hub.RunVideo
	cfg.Support.NewInjector = hub.NewInjector
	if desktop {
		cfg.Support.Asker, cfg.Support.Indicator = hub, hub
		cfg.Request.Form, cfg.Request.Notify = hub, hub
	}
	sc := helper.SuperviseConfig{Hub: hub, Launcher: l, Exe: exe, Listen: localsock.ListenPrivate, Peer: peer, Logger: log}
	cfg.Services = append(cfg.Services, func(ctx context.Context) error { return helper.Supervise(ctx, sc) })
	return nil
}

// peer is the SID and process id of a helper pipe's client.
func peer(c net.Conn) (string, uint32, error) {
	sid, err := localsock.PeerSID(c)
	if err != nil {
		return "", 0, err
	}
	pid, err := localsock.PeerPID(c)
	return sid, pid, err
}
