// Package agent assembles the endpoint side of Porthole: the enrolled
// identity, the control link to the broker and the inventory it reports,
// and routes each broker message to its one handler (see route).
//
// The agent knows no operating system: the OS services (screen capture,
// encoder, input, dialogs) come in Config, filled in for each OS by
// agent/platform; see docs/adr/0008-agent-platform-seam.md.
package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"

	"golang.org/x/sync/errgroup"

	"porthole/agent/accounts"
	"porthole/agent/elevation"
	"porthole/agent/elevsock"
	"porthole/agent/identity"
	"porthole/agent/inventory"
	"porthole/agent/link"
	"porthole/agent/outbox"
	"porthole/agent/request"
	"porthole/agent/support"
	"porthole/internal/rtcnet"
	"porthole/internal/wire"
)

// Version is the agent version reported to the broker.
var Version = "0.1.0"

// Config is everything the agent needs.
type Config struct {
	StateDir string // required: where the device key and enrollment live
	Logger   *slog.Logger
	// Displays enumerates the screens (nil when there is no graphical session).
	Displays func() ([]wire.Display, error)
	// CaptureMethod names how the screen is captured, for the inventory
	// ("x11-shm", "dxgi", "gdi"; nil or "" when unknown).
	CaptureMethod func() string
	// Support configures remote-support sessions (screen capture,
	// encoder, consent prompt, input: platform.Assemble fills those in).
	// Its API and Send fields are filled in by New.
	Support support.Config
	// Request configures end-user support requests (local socket, form,
	// desktop launcher). Its Send field is filled in by New.
	Request request.Config
	// Elevation enables temporary admin codes when set (nil: off). It
	// changes the system's sudoers, so only the service (and tests in a
	// throwaway namespace) turn it on.
	Elevation *ElevationConfig
	// Accounts configures break glass (temporary local administrators):
	// Root, Clock and Timer; StateDir, OnEvent and Logger are filled in by
	// New.
	Accounts accounts.Config
	// AccountPrefix starts generated break-glass usernames (default
	// accounts.DefaultPrefix).
	AccountPrefix string
	// Unattended is the endpoint's own policy for sessions that skip the
	// end user's consent: wire.UnattendedDeny (the default, also for "")
	// or wire.UnattendedAllow. It is set where the agent is installed; the
	// broker cannot change it (policy.go).
	Unattended string
	// Services run alongside the agent from Run until it stops (on
	// Windows: the supervisor of the helper in the user's session). One
	// that fails stops the agent.
	Services []func(ctx context.Context) error
}

// ElevationConfig configures temporary admin codes.
type ElevationConfig struct {
	// Socket is where `porthole-agent elevate` reaches the service;
	// default elevsock.DefaultPath.
	Socket string
	// Manager tunes the elevation manager (sudoers dir, clock, secret
	// pattern…); StateDir, DeviceID, Secret, OnEvent and Logger are
	// filled in by New.
	Manager elevation.Config
}

// Agent is a configured endpoint agent.
type Agent struct {
	cfg     Config
	id      identity.Identity
	lnk     *link.Link
	support *support.Manager
	req     *request.Service
	rtc     io.Closer
	events  *outbox.Outbox
	elev    *elevation.Manager // nil when elevation is off
	elevSrv *elevsock.Server
	desk    *elevationDesk
	bg      *breakGlass
	keys    *deviceKeys // elevation-code key rotations (devicekey.go)

	mu       sync.Mutex
	settings map[string]string // the latest values the broker sent; guarded by mu
}

// Enroll registers this endpoint with the broker and stores the identity.
func Enroll(ctx context.Context, cfg Config, brokerURL, token, caFile string) (identity.Identity, error) {
	if err := checkPolicy(cfg.Unattended); err != nil {
		return identity.Identity{}, err
	}
	var ca string
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return identity.Identity{}, fmt.Errorf("CA file: %w", err)
		}
		ca = string(b)
	}
	client, err := link.HTTPClient(ca)
	if err != nil {
		return identity.Identity{}, err
	}
	key, err := identity.LoadOrCreateKey(cfg.StateDir)
	if err != nil {
		return identity.Identity{}, err
	}
	inv := withPolicy(inventory.Collect(ctx, cfg.Displays, cfg.CaptureMethod), cfg.Unattended)
	res, err := link.Enroll(ctx, client, brokerURL, token, key.Public().(ed25519.PublicKey), inv)
	if err != nil {
		return identity.Identity{}, err
	}
	id := identity.Identity{BrokerURL: brokerURL, DeviceID: res.DeviceID, DeviceSecret: res.DeviceSecret, CACert: ca, Key: key}
	if err := identity.Save(cfg.StateDir, id); err != nil {
		return id, fmt.Errorf("save enrollment: %w", err)
	}
	return id, nil
}

// New loads the enrollment from the state dir.
func New(cfg Config) (*Agent, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("agent: state dir required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := checkPolicy(cfg.Unattended); err != nil {
		return nil, err
	}
	id, err := identity.Load(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	client, err := link.HTTPClient(id.CACert)
	if err != nil {
		return nil, err
	}
	events, err := outbox.Open(cfg.StateDir, outbox.Options{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a := &Agent{cfg: cfg, id: id, events: events}
	api, rtcCloser, err := rtcnet.NewAPI(rtcnet.Config{Loopback: true, ListenIP: iceListenIP(id.BrokerURL)}, cfg.Logger.With("component", "webrtc"))
	if err != nil {
		events.Close()
		return nil, fmt.Errorf("agent: webrtc: %w", err)
	}
	a.rtc = rtcCloser
	if cfg.Elevation != nil {
		if err := a.setupElevation(*cfg.Elevation); err != nil {
			events.Close()
			rtcCloser.Close()
			return nil, err
		}
	}
	sc := cfg.Support
	sc.AllowUnattended = cfg.Unattended == wire.UnattendedAllow
	sc.API = api
	sc.Send = func(m wire.Message) error { return a.lnk.Send(m) }
	if sc.Displays == nil {
		sc.Displays = cfg.Displays
	}
	if sc.Logger == nil {
		sc.Logger = cfg.Logger
	}
	a.support = support.New(sc)
	a.bg = newBreakGlass(cfg.Accounts, cfg.AccountPrefix, cfg.StateDir, events, func(m wire.Message) error { return a.lnk.Send(m) }, cfg.Logger)

	rc := cfg.Request
	rc.Send = func(m wire.Message) error { return a.lnk.Send(m) }
	if rc.Outcomes == nil {
		if rc.Outcomes, err = request.OpenOutcomes(cfg.StateDir); err != nil {
			events.Close()
			rtcCloser.Close()
			return nil, fmt.Errorf("agent: %w", err)
		}
	}
	if rc.Logger == nil {
		rc.Logger = cfg.Logger
	}
	a.req = request.New(rc)
	a.keys = newDeviceKeys(cfg.StateDir, id, a.elev, func(m wire.Message) error { return a.lnk.Send(m) }, cfg.Logger)
	a.lnk = link.New(link.Config{
		BrokerURL: id.BrokerURL, DeviceID: id.DeviceID, Key: id.Key, Version: Version,
		TLS: client.Transport.(*http.Transport).TLSClientConfig,
		Inventory: func(ctx context.Context) wire.Inventory {
			return withPolicy(inventory.Collect(ctx, cfg.Displays, cfg.CaptureMethod), cfg.Unattended)
		},
		Logger: cfg.Logger,
	})
	a.route()
	return a, nil
}

// route registers the one handler of each broker message the agent takes.
func (a *Agent) route() {
	l := a.lnk
	link.On(l, a.support.Start)
	link.On(l, a.support.Offer)
	link.On(l, a.support.Update)
	link.On(l, a.support.Expiry)
	link.On(l, a.support.End)
	link.On(l, a.events.Acked)
	link.On(l, a.bg.onCreate)
	link.On(l, a.bg.onRevoke)
	link.On(l, a.onElevationPolicy)
	link.On(l, a.onElevationRequestCode)
	link.On(l, a.onElevationRequestResult)
	link.On(l, a.req.Result)
	link.On(l, a.onSettings)
	link.On(l, a.keys.onKey)
	link.On(l, a.keys.onDone)
}

// DeviceID is the broker-assigned id.
func (a *Agent) DeviceID() string { return a.id.DeviceID }

// Connected is closed while the link is up.
func (a *Agent) Connected() <-chan struct{} { return a.lnk.Connected() }

// Run keeps the agent connected until ctx ends. A running session is
// ended ("the agent stopped") before Run returns, and Config.Services
// run alongside until then.
func (a *Agent) Run(ctx context.Context) error {
	if len(a.cfg.Services) == 0 {
		return a.run(ctx)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range a.cfg.Services {
		g.Go(func() error { return s(gctx) })
	}
	g.Go(func() error { return a.run(gctx) })
	return g.Wait()
}

func (a *Agent) run(ctx context.Context) error {
	a.cfg.Logger.Info("agent starting", "device_id", a.id.DeviceID, "broker", a.id.BrokerURL, "version", Version)
	defer a.events.Close()
	defer a.rtc.Close()
	defer a.support.Close()
	pumpCtx, stopPump := context.WithCancel(ctx)
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		a.events.Pump(pumpCtx, a.lnk)
	}()
	defer func() { stopPump(); <-pumped }()
	bgCtx, stopBG := context.WithCancel(ctx)
	defer func() { stopBG(); a.bg.wait() }()
	a.bg.start(bgCtx)
	rctx, stopReq := context.WithCancel(ctx)
	reqDone := make(chan error, 1)
	go func() {
		err := a.req.Run(rctx)
		if err != nil {
			// Told now, not at shutdown: end users cannot file requests.
			a.cfg.Logger.Error("support request socket", "err", err)
		}
		reqDone <- err
	}()
	defer func() { stopReq(); <-reqDone }()
	if a.elev == nil {
		return a.lnk.Run(ctx)
	}
	// Elevation works offline: its expiry and recording run whether or not
	// the link is up, and stop with it.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.elev.Run(gctx) })
	g.Go(func() error { return a.elevSrv.Run(gctx) })
	g.Go(func() error { return a.lnk.Run(gctx) })
	return g.Wait()
}

// Events is the durable outbox through which the agent's own actions
// (break glass, elevation) reach the broker's audit log.
func (a *Agent) Events() *outbox.Outbox { return a.events }

// Settings returns the effective settings the broker last sent (nil before
// the first), keyed by setting name.
func (a *Agent) Settings() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.settings)
}

// onSettings keeps the broker's effective settings and applies those the
// agent acts on.
func (a *Agent) onSettings(_ context.Context, st *wire.Settings) {
	a.mu.Lock()
	a.settings = maps.Clone(st.Values)
	a.mu.Unlock()
	a.cfg.Logger.Info("settings from the broker", "count", len(st.Values))
	if err := a.req.ApplySettings(st.Values); err != nil {
		a.cfg.Logger.Warn("apply settings", "err", err)
	}
}

// iceListenIP keeps ICE on loopback when the broker is on this machine
// (tests, the demo), and on every interface otherwise.
func iceListenIP(brokerURL string) string {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() && ip.To4() != nil {
		return ip.String()
	}
	if u.Hostname() == "localhost" {
		return "127.0.0.1"
	}
	return ""
}
