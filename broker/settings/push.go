package settings

import (
	"context"
	"log/slog"
	"strings"

	"porthole/internal/wire"
)

// pushLink is how the Pusher reaches connected agents.
type pushLink interface {
	Connected() []string
	Send(deviceID string, m wire.Message) error
}

// Pusher sends agents their effective settings: at connect, and whenever a
// setting in a scope that covers them changes, so a change reaches a
// connected endpoint at once and an offline one when it reconnects.
type Pusher struct {
	s     *Settings
	link  pushLink
	group func(ctx context.Context, deviceID string) (string, error)
	log   *slog.Logger
}

// NewPusher returns a Pusher over link.
func NewPusher(s *Settings, link pushLink, log *slog.Logger) *Pusher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pusher{s: s, link: link, group: s.st.DeviceGroup, log: log.With("component", "settings")}
}

// Device sends one device its effective settings.
func (p *Pusher) Device(ctx context.Context, deviceID string) {
	vals, err := p.s.All(ctx, deviceID)
	if err != nil {
		p.log.Error("settings for agent", "device_id", deviceID, "err", err)
		return
	}
	m := &wire.Settings{Values: make(map[string]string, len(vals))}
	for _, v := range vals {
		m.Values[v.Key] = v.Value
	}
	if err := p.link.Send(deviceID, m); err != nil {
		p.log.Info("settings not delivered; sent at reconnect", "device_id", deviceID, "err", err)
	}
}

// Scope sends fresh settings to every connected device that scope covers.
func (p *Pusher) Scope(ctx context.Context, scope string) {
	for _, id := range p.link.Connected() {
		if p.covers(ctx, scope, id) {
			p.Device(ctx, id)
		}
	}
}

func (p *Pusher) covers(ctx context.Context, scope, deviceID string) bool {
	switch {
	case scope == Global:
		return true
	case strings.HasPrefix(scope, "device:"):
		return scope == DeviceScope(deviceID)
	case strings.HasPrefix(scope, "group:"):
		g, err := p.group(ctx, deviceID)
		return err == nil && g != "" && scope == GroupScope(g)
	}
	return false
}
