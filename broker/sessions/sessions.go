// Package sessions runs remote-support sessions on the broker: the state
// machine from request through consent, WebRTC negotiation on both legs
// and live relaying to the end, with every transition audited and stored.
//
// The broker is the only authority here: role checks happen before Start,
// the "Allow Remote Support" setting and the device's state are checked in
// Start, consent must arrive from the agent before any media leg exists,
// and view-only is enforced by the relay's input filter.
package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"porthole/broker/audit"
	"porthole/broker/recording"
	"porthole/broker/relay"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

// States of a session.
const (
	StateWaitingConsent = "waiting_consent"
	StateDeclined       = "declined"
	StateConnecting     = "connecting"
	StateLive           = "live"
	StateEnded          = "ended"
)

// Errors, matched with errors.Is.
var (
	ErrNotAllowed = errors.New("remote support is not allowed on this device")
	ErrOffline    = errors.New("device is offline")
	ErrBusy       = errors.New("device already has a remote support session")
	ErrRevoked    = errors.New("device is revoked")
	ErrNotFound   = errors.New("no such session")
	ErrEnded      = errors.New("session has ended")
	ErrState      = errors.New("session is not in a state that allows this")
	// ErrNotAllowedHere refuses an action the settings do not permit on this session.
	ErrNotAllowedHere = errors.New("not allowed for this session")
)

// agentLink is how the manager reaches agents.
type agentLink interface {
	Online(deviceID string) bool
	Send(deviceID string, m wire.Message) error
}

type sessionStore interface {
	Device(ctx context.Context, id string) (store.Device, error)
	SaveSupportSession(ctx context.Context, r store.SupportSession) error
	SaveRecording(ctx context.Context, r store.Recording) error
}

type auditor interface {
	Append(ctx context.Context, e audit.Event) (store.AuditRecord, error)
}

type settingsReader interface {
	Bool(ctx context.Context, deviceID, key string) (bool, error)
	Int(ctx context.Context, deviceID, key string) (int, error)
	Effective(ctx context.Context, deviceID, key string) (settings.Value, error)
}

// Config wires a Manager.
type Config struct {
	Agents   agentLink
	Store    sessionStore
	Audit    auditor
	Settings settingsReader
	API      *webrtc.API // from rtcnet.NewAPI
	Clock    clock.Clock
	Logger   *slog.Logger
	// NegotiationTimeout bounds each SDP step (default 20s).
	NegotiationTimeout time.Duration
	// DisconnectGrace is how long a WebRTC leg may stay disconnected (default 5s).
	DisconnectGrace time.Duration
	// NewTicker makes the tickers that wake expiry watchers (default
	// NewRealTicker); tests pass sessionstest.Ticks.NewTicker.
	NewTicker func(time.Duration) Ticker
	// Recordings records sessions (setting recording.enabled); nil never
	// records.
	Recordings recorders
	// RecordingMaxBytes caps one recording (all its files); past it the
	// recording stops as if the disk were full. Zero means no cap.
	RecordingMaxBytes int64
	// ExpiryTick is how often a watcher looks at the clock and tells the
	// viewer the time left (default 1s).
	ExpiryTick time.Duration
	// Grants says whether an access grant is still in force; sessions
	// started under a grant need it (Start refuses them without).
	Grants grants
}

type grants interface {
	Covers(ctx context.Context, requestID, deviceID string) (bool, error)
}

// Manager owns every session of this broker.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	byID     map[string]*Session // guarded by mu
	byDevice map[string]*Session // active sessions only; guarded by mu
	closed   bool                // guarded by mu
	wg       sync.WaitGroup
}

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NegotiationTimeout == 0 {
		cfg.NegotiationTimeout = 20 * time.Second
	}
	if cfg.NewTicker == nil {
		cfg.NewTicker = NewRealTicker
	}
	if cfg.ExpiryTick == 0 {
		cfg.ExpiryTick = time.Second
	}
	return &Manager{cfg: cfg, log: cfg.Logger.With("component", "sessions"), byID: map[string]*Session{}, byDevice: map[string]*Session{}}
}

// Request is what a portal user asks for.
type Request struct {
	ID          string // new session id (random, from the caller)
	DeviceID    string
	Requester   string // portal username
	ViewOnly    bool
	Display     int
	SourceIP    string
	ViewOnlySet bool // the caller chose ViewOnly explicitly; otherwise the setting decides
	// Grant is the access request whose grant let the requester connect
	// ("" when their role did); the session ends when that grant does.
	Grant string
	// Unattended skips the end user's consent prompt on a device whose
	// setting asks for it. The caller has checked the requester holds an
	// unattended-access grant for the device.
	Unattended bool
}

// Event is what a viewer receives.
type Event struct {
	Type   string `json:"type"` // "state", "offer" or "expiry"
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
	SDP    string `json:"sdp,omitempty"`
	// ExpiresAt and RemainingSeconds ("expiry" events) come from the
	// broker's clock; the page shows RemainingSeconds rather than computing
	// it from its own clock, which may disagree.
	ExpiresAt        *time.Time `json:"expires_at,omitempty"`
	RemainingSeconds int        `json:"remaining_seconds,omitempty"`
}

// Session is one remote-support session.
type Session struct {
	m *Manager

	ID        string
	DeviceID  string
	Hostname  string
	Requester string
	SourceIP  string
	StartedAt time.Time
	// Grant is the access request whose grant the session runs under ("":
	// the requester's role).
	Grant string

	viewOnly atomic.Bool
	// expiry is the period from consent to automatic end (0 = none) and
	// canExtend whether the requester may add another; both from settings at Start.
	expiry    time.Duration
	canExtend bool

	mu        sync.Mutex
	state     string                  // guarded by mu
	display   int                     // guarded by mu
	consent   string                  // guarded by mu
	endReason string                  // guarded by mu
	endedAt   time.Time               // guarded by mu
	offer     string                  // browser offer waiting for a viewer; guarded by mu
	expiresAt time.Time               // zero until consent, or when expiry is off; guarded by mu
	warned    bool                    // the final-countdown warning went to the agent; guarded by mu
	rel       *relay.Session          // set once consent is granted; guarded by mu
	watchers  map[chan Event]struct{} // guarded by mu
	done      chan struct{}

	inputs  inputCounts
	dropped atomic.Uint64

	// rec is the session's recording, set once consent is granted (when
	// recordings are on) and taken at the end; recRequired is the
	// recording.required setting at that time.
	rec         atomic.Pointer[recording.Recorder]
	recRequired atomic.Bool
	// recKeysFull records which keys were typed (recording.keystrokes =
	// full); otherwise only that a key was pressed (keystrokes.go).
	recKeysFull atomic.Bool
}

// Start validates the request, records it and asks the agent for consent.
// The caller has already checked the requester's role.
func (m *Manager) Start(ctx context.Context, req Request) (*Session, error) {
	dev, err := m.cfg.Store.Device(ctx, req.DeviceID)
	if err != nil {
		return nil, err
	}
	if dev.Revoked {
		return nil, ErrRevoked
	}
	allowed, err := m.cfg.Settings.Effective(ctx, dev.ID, settings.AllowRemoteSupport)
	if err != nil {
		return nil, err
	}
	if allowed.Value != "true" {
		// Say which scope switched it off, so the portal user knows where to look.
		return nil, fmt.Errorf("%w: Allow Remote Support is off (%s setting)", ErrNotAllowed, scopeName(allowed.Source))
	}
	if !m.cfg.Agents.Online(dev.ID) {
		return nil, ErrOffline
	}
	if req.Display < 0 || (len(dev.Displays) > 0 && req.Display >= len(dev.Displays)) {
		return nil, fmt.Errorf("%w: display %d", ErrState, req.Display)
	}
	consentMode, err := m.cfg.Settings.Effective(ctx, dev.ID, settings.Consent)
	if err != nil {
		return nil, err
	}
	timeout, err := m.cfg.Settings.Int(ctx, dev.ID, settings.ConsentTimeout)
	if err != nil {
		return nil, err
	}
	if !req.ViewOnlySet {
		if req.ViewOnly, err = m.cfg.Settings.Bool(ctx, dev.ID, settings.ViewOnlyDefault); err != nil {
			return nil, err
		}
	}
	expiryMin, err := m.cfg.Settings.Int(ctx, dev.ID, settings.ExpiryMinutes)
	if err != nil {
		return nil, err
	}
	canExtend, err := m.cfg.Settings.Bool(ctx, dev.ID, settings.AllowExtend)
	if err != nil {
		return nil, err
	}
	if (req.Grant != "" || req.Unattended) && m.cfg.Grants == nil {
		return nil, fmt.Errorf("%w: this broker does not run access grants", ErrNotAllowed)
	}
	if req.Unattended {
		consentMode.Value = wire.ConsentUnattended
	}
	s := &Session{m: m, ID: req.ID, DeviceID: dev.ID, Hostname: dev.Hostname, Requester: req.Requester, SourceIP: req.SourceIP,
		Grant: req.Grant, StartedAt: m.cfg.Clock.Now(), state: StateWaitingConsent, display: req.Display, watchers: map[chan Event]struct{}{}, done: make(chan struct{})}
	s.viewOnly.Store(req.ViewOnly)
	s.expiry, s.canExtend = time.Duration(expiryMin)*time.Minute, canExtend

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrEnded
	}
	if _, busy := m.byDevice[dev.ID]; busy {
		m.mu.Unlock()
		return nil, ErrBusy
	}
	m.byDevice[dev.ID] = s
	m.byID[s.ID] = s
	m.mu.Unlock()

	// Fail closed: a session whose request cannot be audited does not start.
	details := map[string]any{"view_only": req.ViewOnly, "display": req.Display, "consent_mode": consentMode.Value, "expiry_minutes": expiryMin}
	if req.Grant != "" {
		details["grant"] = req.Grant
	}
	if req.Unattended {
		details["unattended_by_grant"] = true
	}
	if err := s.record(ctx, "session.requested", details); err != nil {
		m.forget(s)
		return nil, err
	}
	if err := s.save(ctx); err != nil {
		m.forget(s)
		return nil, err
	}
	if s.Grant != "" {
		s.tick(s.grantTick)
	}
	if consentMode.Value == wire.ConsentUnattended {
		m.log.Warn("unattended session: the end user is not asked", "session_id", s.ID, "device_id", dev.ID, "requester", req.Requester)
	}
	err = m.cfg.Agents.Send(dev.ID, &wire.SessionStart{SessionID: s.ID, Requester: req.Requester, ViewOnly: req.ViewOnly,
		Consent: consentMode.Value, ConsentTimeoutSeconds: timeout, Display: req.Display})
	if err != nil {
		s.End(fmt.Sprintf("agent unreachable: %v", err))
		return nil, fmt.Errorf("%w: %v", ErrOffline, err)
	}
	// Consent must arrive within the prompt's timeout plus slack for the link.
	m.goAfter(s, time.Duration(timeout)*time.Second+15*time.Second, func() {
		if s.State() == StateWaitingConsent {
			s.End("no answer from the endpoint")
		}
	})
	return s, nil
}

// scopeName names a settings source for people: "global", "group", "device".
func scopeName(source string) string {
	kind, _, _ := strings.Cut(source, ":")
	return kind
}

// goAfter runs f after d unless the session ends first.
func (m *Manager) goAfter(s *Session, d time.Duration, f func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			f()
		case <-s.done:
		}
	}()
}

func (m *Manager) forget(s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byDevice[s.DeviceID] == s {
		delete(m.byDevice, s.DeviceID)
	}
}

// Get returns a session of this broker run (live or recently ended).
func (m *Manager) Get(id string) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byID[id]
	if !ok {
		return nil, ErrNotFound
	}
	return s, nil
}

// active returns the session for an agent message, checking it belongs to the device.
func (m *Manager) active(deviceID, sessionID string) *Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.byDevice[deviceID]
	if s == nil || s.ID != sessionID {
		return nil
	}
	return s
}

// HandleAgent takes a session message from an authenticated agent.
func (m *Manager) HandleAgent(deviceID string, msg wire.Message) {
	switch msg := msg.(type) {
	case *wire.Consent:
		if s := m.active(deviceID, msg.SessionID); s != nil {
			s.onConsent(msg)
			return
		}
	case *wire.SDPAnswer:
		if s := m.active(deviceID, msg.SessionID); s != nil {
			s.onAgentAnswer(msg.SDP)
			return
		}
	case *wire.SessionEnd:
		if s := m.active(deviceID, msg.SessionID); s != nil {
			s.End(msg.Reason)
			return
		}
	default:
		m.log.Warn("unexpected message from agent", "device_id", deviceID, "type", msg.Type())
		return
	}
	m.log.Warn("agent message for a session it does not have", "device_id", deviceID, "type", msg.Type())
}

// AgentOffline ends the device's session: its control link dropped.
func (m *Manager) AgentOffline(deviceID string) {
	m.mu.Lock()
	s := m.byDevice[deviceID]
	m.mu.Unlock()
	if s != nil {
		s.End("the endpoint disconnected")
	}
}

// Close ends every session (broker shutdown) and waits for their goroutines.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	all := make([]*Session, 0, len(m.byDevice))
	for _, s := range m.byDevice {
		all = append(all, s)
	}
	m.mu.Unlock()
	for _, s := range all {
		s.End("broker shutting down")
	}
	m.wg.Wait()
}

// State returns the current state.
func (s *Session) State() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Done is closed when the session has ended (or was declined).
func (s *Session) Done() <-chan struct{} { return s.done }

// ViewOnly reports the session's mode.
func (s *Session) ViewOnly() bool { return s.viewOnly.Load() }

func (s *Session) record(ctx context.Context, action string, details map[string]any) error {
	return s.recordAs(ctx, "user:"+s.Requester, s.SourceIP, action, details)
}

// recordAs audits an action on the session by actor (the requester, or
// another portal user such as one extending it).
func (s *Session) recordAs(ctx context.Context, actor, sourceIP, action string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	details["device_id"] = s.DeviceID
	details["hostname"] = s.Hostname
	_, err := s.m.cfg.Audit.Append(ctx, audit.Event{Actor: actor, Action: action, Target: s.ID, SourceIP: sourceIP, Details: details})
	if err != nil {
		s.m.log.Error("audit session event", "session_id", s.ID, "action", action, "err", err)
	}
	return err
}

// Snapshot is a session as the API shows it.
type Snapshot struct {
	ID        string         `json:"id"`
	DeviceID  string         `json:"device_id"`
	Hostname  string         `json:"hostname"`
	Requester string         `json:"requester"`
	State     string         `json:"state"`
	ViewOnly  bool           `json:"view_only"`
	Display   int            `json:"display"`
	Consent   string         `json:"consent,omitempty"`
	StartedAt time.Time      `json:"started_at"`
	EndedAt   *time.Time     `json:"ended_at,omitempty"`
	EndReason string         `json:"end_reason,omitempty"`
	Input     map[string]any `json:"input"`
	Relay     *relay.Stats   `json:"relay,omitempty"`
	// ExpiresAt is when the broker will end the session (nil: no expiry, or
	// consent not yet given); RemainingSeconds is measured on the broker's
	// clock at the time of the snapshot.
	ExpiresAt        *time.Time `json:"expires_at,omitempty"`
	RemainingSeconds int        `json:"remaining_seconds,omitempty"`
	CanExtend        bool       `json:"can_extend,omitempty"`
	// Grant is the access request whose grant the session runs under.
	Grant string `json:"grant,omitempty"`
}

// Snapshot returns the session's current view.
func (s *Session) Snapshot() Snapshot {
	s.mu.Lock()
	snap := Snapshot{ID: s.ID, DeviceID: s.DeviceID, Hostname: s.Hostname, Requester: s.Requester, State: s.state,
		ViewOnly: s.viewOnly.Load(), Display: s.display, Consent: s.consent, StartedAt: s.StartedAt, EndReason: s.endReason,
		Grant: s.Grant}
	if !s.endedAt.IsZero() {
		t := s.endedAt
		snap.EndedAt = &t
	}
	if !s.expiresAt.IsZero() {
		t := s.expiresAt
		snap.ExpiresAt = &t
		if snap.EndedAt == nil {
			snap.RemainingSeconds = remainingSeconds(t.Sub(s.m.cfg.Clock.Now()))
			snap.CanExtend = s.canExtend
		}
	}
	rel := s.rel
	s.mu.Unlock()
	snap.Input = s.inputs.summary(s.dropped.Load())
	if rel != nil {
		st := rel.Stats()
		snap.Relay = &st
	}
	return snap
}

func (s *Session) save(ctx context.Context) error {
	snap := s.Snapshot()
	details, _ := json.Marshal(map[string]any{"input": snap.Input, "relay": snap.Relay, "expires_at": snap.ExpiresAt})
	r := store.SupportSession{ID: s.ID, DeviceID: s.DeviceID, Hostname: s.Hostname, Requester: s.Requester, State: snap.State,
		ViewOnly: snap.ViewOnly, Display: snap.Display, Consent: snap.Consent, StartedAt: s.StartedAt, EndReason: snap.EndReason, Details: string(details)}
	if snap.EndedAt != nil {
		r.EndedAt = *snap.EndedAt
	}
	if err := s.m.cfg.Store.SaveSupportSession(ctx, r); err != nil {
		s.m.log.Error("save session", "session_id", s.ID, "err", err)
		return err
	}
	return nil
}

// setState changes state and tells the viewers; it returns false once ended.
func (s *Session) setState(state, reason string) bool {
	s.mu.Lock()
	if s.state == StateEnded || s.state == StateDeclined {
		s.mu.Unlock()
		return false
	}
	s.state = state
	s.broadcastLocked(Event{Type: "state", State: state, Reason: reason})
	s.mu.Unlock()
	return true
}

func (s *Session) broadcastLocked(e Event) {
	for ch := range s.watchers {
		select {
		case ch <- e:
		default: // a viewer that stopped reading misses updates; it reloads state
		}
	}
}

func (s *Session) onConsent(c *wire.Consent) {
	ctx := context.Background()
	s.mu.Lock()
	if s.state != StateWaitingConsent {
		s.mu.Unlock()
		return
	}
	s.consent = c.Answer
	s.mu.Unlock()
	_ = s.record(ctx, "session.consent", map[string]any{"answer": c.Answer, "detail": c.Detail})
	if !c.Granted() {
		reason := "declined by the end user"
		switch c.Answer {
		case wire.AnswerTimedOut:
			reason = "the end user did not answer in time"
		case wire.AnswerBusy:
			reason = "the endpoint is already in a session"
		case wire.AnswerError:
			reason = "the consent prompt could not be shown"
		case wire.AnswerRefusedByPolicy:
			reason = wire.UnattendedRefused
		}
		s.finish(StateDeclined, reason)
		return
	}
	// Consent granted: only now does a media path exist.
	rel, err := relay.New(s.m.cfg.API, s.m.cfg.Logger.With("session_id", s.ID), relay.Options{
		DisconnectGrace: s.m.cfg.DisconnectGrace,
		InputFilter:     s.filterInput,
	})
	if err != nil {
		s.End("broker could not create the media relay")
		return
	}
	s.mu.Lock()
	if s.state != StateWaitingConsent {
		s.mu.Unlock()
		rel.Close()
		return
	}
	s.rel = rel
	s.mu.Unlock()
	if err := s.startRecording(ctx, rel, s.m.cfg.Clock.Now(), c.Answer); err != nil {
		s.End(ErrRecording.Error())
		return
	}
	s.setState(StateConnecting, "")
	// The expiry clock starts with consent, and the agent hears of it before
	// the offer so its indicator can show the end time from the start.
	s.startExpiry()
	_ = s.save(ctx)
	s.m.wg.Add(1)
	go func() {
		defer s.m.wg.Done()
		select {
		case <-rel.Done():
		case <-s.done:
			return
		}
		if errors.Is(rel.Err(), relay.ErrAgentClosed) {
			// An agent that ends a session says why on the link, and the
			// message may trail its closing media leg.
			grace := time.NewTimer(endReasonGrace)
			defer grace.Stop()
			select {
			case <-s.done:
				return
			case <-grace.C:
			}
		}
		s.End(relayReason(rel.Err()))
	}()
	octx, cancel := context.WithTimeout(ctx, s.m.cfg.NegotiationTimeout)
	defer cancel()
	offer, err := rel.AgentOffer(octx)
	if err != nil {
		s.End("could not negotiate with the endpoint")
		return
	}
	if err := s.m.cfg.Agents.Send(s.DeviceID, &wire.SDPOffer{SessionID: s.ID, SDP: offer}); err != nil {
		s.End("the endpoint disconnected")
		return
	}
	s.m.goAfter(s, s.m.cfg.NegotiationTimeout, func() {
		if st := s.State(); st == StateConnecting {
			s.End("negotiation timed out")
		}
	})
}

// endReasonGrace is how long a media leg the agent closed waits for the
// agent's session-end message that explains it.
const endReasonGrace = 2 * time.Second

func relayReason(err error) string {
	switch {
	case errors.Is(err, relay.ErrAgentClosed), errors.Is(err, relay.ErrAgentFailed), errors.Is(err, relay.ErrAgentLost):
		return "the endpoint's media connection was lost"
	case errors.Is(err, relay.ErrBrowserClosed):
		return "the viewer closed"
	case errors.Is(err, relay.ErrBrowserFailed), errors.Is(err, relay.ErrBrowserLost):
		return "the viewer's media connection was lost"
	}
	return "media relay ended"
}

func (s *Session) onAgentAnswer(sdp string) {
	s.mu.Lock()
	rel := s.rel
	s.mu.Unlock()
	if rel == nil {
		return
	}
	if err := rel.AgentAnswer(sdp); err != nil {
		s.End("the endpoint's answer was not usable")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.m.cfg.NegotiationTimeout)
	defer cancel()
	offer, err := rel.BrowserOffer(ctx)
	if err != nil {
		s.End("could not prepare the viewer connection")
		return
	}
	s.mu.Lock()
	s.offer = offer
	s.broadcastLocked(Event{Type: "offer", SDP: offer})
	s.mu.Unlock()
}

// Watch subscribes a viewer. It returns the current state and any pending
// offer first. cancel must be called.
func (s *Session) Watch() (<-chan Event, func()) {
	ch := make(chan Event, 16)
	s.mu.Lock()
	ch <- Event{Type: "state", State: s.state, Reason: s.endReason}
	if s.offer != "" {
		ch <- Event{Type: "offer", SDP: s.offer}
	}
	if e, ok := s.expiryEventLocked(); ok {
		ch <- e
	}
	s.watchers[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.watchers, ch)
		s.mu.Unlock()
	}
}

// BrowserAnswer applies the viewer's answer; the session is then live.
func (s *Session) BrowserAnswer(sdp string) error {
	s.mu.Lock()
	rel, offered := s.rel, s.offer != ""
	s.offer = ""
	s.mu.Unlock()
	if rel == nil || !offered {
		return ErrState
	}
	if err := rel.BrowserAnswer(sdp); err != nil {
		s.End("the viewer's answer was not usable")
		return fmt.Errorf("browser answer: %w", err)
	}
	if s.setState(StateLive, "") {
		_ = s.record(context.Background(), "session.started", map[string]any{"view_only": s.ViewOnly()})
		_ = s.save(context.Background())
	}
	return nil
}

// SetViewOnly switches the mode. Leaving view-only needs allowExit (the
// caller decides from settings and role).
func (s *Session) SetViewOnly(ctx context.Context, viewOnly, allowExit bool) error {
	if !viewOnly && s.viewOnly.Load() && !allowExit {
		return fmt.Errorf("%w: leaving view-only is not allowed", ErrState)
	}
	if st := s.State(); st == StateEnded || st == StateDeclined {
		return ErrEnded
	}
	if err := s.record(ctx, "session.view_only", map[string]any{"view_only": viewOnly}); err != nil {
		return err
	}
	s.viewOnly.Store(viewOnly)
	s.recordEvent(recording.EventViewOnly, map[string]bool{"view_only": viewOnly})
	s.mu.Lock()
	d := s.display
	s.mu.Unlock()
	_ = s.m.cfg.Agents.Send(s.DeviceID, &wire.SessionUpdate{SessionID: s.ID, ViewOnly: viewOnly, Display: d})
	return nil
}

// SetDisplay switches the captured monitor.
func (s *Session) SetDisplay(ctx context.Context, display int) error {
	dev, err := s.m.cfg.Store.Device(ctx, s.DeviceID)
	if err != nil {
		return err
	}
	if display < 0 || display >= max(1, len(dev.Displays)) {
		return fmt.Errorf("%w: no display %d", ErrState, display)
	}
	s.mu.Lock()
	s.display = display
	s.mu.Unlock()
	s.recordEvent(recording.EventDisplay, map[string]int{"display": display})
	return s.m.cfg.Agents.Send(s.DeviceID, &wire.SessionUpdate{SessionID: s.ID, ViewOnly: s.viewOnly.Load(), Display: display})
}

// End ends the session on both sides with reason. It is idempotent.
func (s *Session) End(reason string) { s.finish(StateEnded, reason) }

func (s *Session) finish(state, reason string) {
	s.mu.Lock()
	if s.state == StateEnded || s.state == StateDeclined {
		s.mu.Unlock()
		return
	}
	wasDeclined := state == StateDeclined
	s.state = state
	s.endReason = reason
	s.endedAt = s.m.cfg.Clock.Now()
	rel := s.rel
	s.broadcastLocked(Event{Type: "state", State: state, Reason: reason})
	close(s.done)
	s.mu.Unlock()

	s.m.forget(s)
	if !wasDeclined {
		// Tell the agent first (it may be the one that ended it; a repeat is
		// harmless), so it learns the reason before its media leg drops.
		_ = s.m.cfg.Agents.Send(s.DeviceID, &wire.SessionEnd{SessionID: s.ID, Reason: reason})
	}
	if rel != nil {
		rel.Close()
	}
	// After the relay: no packet can reach the recorder any more.
	s.finishRecording(context.Background(), state, reason)
	snap := s.Snapshot()
	_ = s.record(context.Background(), "session.ended", map[string]any{"reason": reason, "state": state, "input": snap.Input})
	_ = s.save(context.Background())
	s.m.log.Info("session ended", "session_id", s.ID, "device_id", s.DeviceID, "reason", reason)
}

// filterInput is the relay's input filter: every message is decoded by the
// one input decoder; view-only sessions and malformed messages are dropped
// and counted.
func (s *Session) filterInput(msg []byte) bool {
	in, err := wire.DecodeInput(msg)
	if err != nil {
		s.inputs.add("malformed")
		s.dropped.Add(1)
		return false
	}
	if s.viewOnly.Load() {
		s.dropped.Add(1)
		return false
	}
	s.inputs.add(string(in.Kind))
	s.recordInput(in, msg)
	return true
}

// inputCounts counts forwarded input per kind for the audit summary.
type inputCounts struct {
	mu sync.Mutex
	n  map[string]uint64 // guarded by mu
}

func (c *inputCounts) add(kind string) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]uint64{}
	}
	c.n[kind]++
	c.mu.Unlock()
}

func (c *inputCounts) summary(dropped uint64) map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]any{"dropped": dropped}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// FromRecord turns a stored record (a session of an earlier broker run) into a Snapshot.
func FromRecord(r store.SupportSession) Snapshot {
	snap := Snapshot{ID: r.ID, DeviceID: r.DeviceID, Hostname: r.Hostname, Requester: r.Requester, State: r.State,
		ViewOnly: r.ViewOnly, Display: r.Display, Consent: r.Consent, StartedAt: r.StartedAt, EndReason: r.EndReason}
	if !r.EndedAt.IsZero() {
		t := r.EndedAt
		snap.EndedAt = &t
	}
	var d struct {
		Input     map[string]any `json:"input"`
		Relay     *relay.Stats   `json:"relay"`
		ExpiresAt *time.Time     `json:"expires_at"`
	}
	if json.Unmarshal([]byte(r.Details), &d) == nil {
		snap.Input, snap.Relay, snap.ExpiresAt = d.Input, d.Relay, d.ExpiresAt
	}
	return snap
}
