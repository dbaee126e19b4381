package agent

import (
	"fmt"
	"time"

	"porthole/agent/elevation"
	"porthole/agent/elevsock"
	"porthole/internal/wire"
)

// setupElevation builds the elevation manager over the enrollment's device
// secret, with its events going to the outbox, and the local socket.
func (a *Agent) setupElevation(ec ElevationConfig) error {
	mc := ec.Manager
	mc.StateDir, mc.DeviceID, mc.Secret = a.cfg.StateDir, a.id.DeviceID, a.id.DeviceSecret
	mc.Logger = a.cfg.Logger
	mc.OnEvent = a.elevationEvent
	m, err := elevation.New(mc)
	if err != nil {
		return fmt.Errorf("agent: elevation: %w", err)
	}
	now := time.Now
	if mc.Clock != nil {
		now = mc.Clock.Now
	}
	a.elev = m
	a.elevSrv = elevsock.NewServer(ec.Socket, m, now, a.cfg.Logger)
	return nil
}

// Elevation is the elevation manager, nil when elevation is off.
func (a *Agent) Elevation() *elevation.Manager { return a.elev }

// elevationEvent queues an elevation event for the broker (durably: the
// outbox fsyncs before Add returns).
func (a *Agent) elevationEvent(ev elevation.Event) {
	d := wire.ElevationEvent{SessionID: ev.SessionID, User: ev.User, Until: ev.Until, Reason: ev.Reason, Error: ev.Err}
	if !ev.CodeIssuedAt.IsZero() {
		n := ev.CodeNonce
		d.CodeIssuedAt, d.CodeNonce = ev.CodeIssuedAt, &n
	}
	if p := ev.Process; p != nil {
		d.Process = &wire.ElevationProcessed{PID: p.PID, PPID: p.PPID, UID: p.UID, EUID: p.EUID, LoginUID: p.LoginUID,
			Exe: p.Exe, Args: p.Args, StartedAt: p.StartedAt}
	}
	data, err := wire.MarshalElevationEvent(d)
	if err == nil {
		_, err = a.events.Add(string(ev.Kind), data)
	}
	if err != nil {
		a.cfg.Logger.Error("elevation event not queued for the broker", "kind", string(ev.Kind), "session_id", ev.SessionID, "err", err)
	}
}
