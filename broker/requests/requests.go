// Package requests is the broker's approvals queue: end users ask for
// remote support or elevation from their endpoint (and, later, access),
// portal users approve or deny, and requests nobody handles expire. Every
// transition is audited, pushed live to portal pages, and told to the
// endpoint that asked.
//
// The queue is generic: a request has a Kind and a kind-specific JSON
// payload. The support kind is decided here; other kinds (elevation) plug
// in a Decider with Register and queue their requests with Queue, so every
// kind shares one list, one set of live events, one expiry and one audit
// trail of decisions.
package requests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"porthole/broker/audit"
	"porthole/broker/live"
	"porthole/broker/sessions"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

// Kinds of request.
const (
	KindSupport   = "support"
	KindElevation = "elevation"
	KindAccess    = "access"
)

// Errors, matched with errors.Is.
var (
	ErrNotAllowed  = errors.New("remote support is not allowed on this device")
	ErrPending     = errors.New("this device already has a pending support request")
	ErrUnsupported = errors.New("requests of this kind cannot be decided yet")
	ErrComment     = errors.New("comment too long or has control characters")
)

type requestStore interface {
	Device(ctx context.Context, id string) (store.Device, error)
	CreateRequest(ctx context.Context, r store.Request) error
	Request(ctx context.Context, id string) (store.Request, error)
	Requests(ctx context.Context, status string, limit int) ([]store.Request, error)
	DecideRequest(ctx context.Context, id, status, by, comment, sessionID string, at time.Time) error
	DueRequests(ctx context.Context, now time.Time) ([]store.Request, error)
	UnackedOutcomes(ctx context.Context, deviceID string, since time.Time) ([]store.Request, error)
	AckOutcome(ctx context.Context, id string, at time.Time) (bool, error)
	UnackOutcome(ctx context.Context, id string) error
}

type auditor interface {
	Append(ctx context.Context, e audit.Event) (store.AuditRecord, error)
}

type settingsReader interface {
	Bool(ctx context.Context, deviceID, key string) (bool, error)
	Int(ctx context.Context, deviceID, key string) (int, error)
}

type agentLink interface {
	Online(deviceID string) bool
	Send(deviceID string, m wire.Message) error
}

// sessionStarter starts the support session an approval grants.
type sessionStarter interface {
	Start(ctx context.Context, req sessions.Request) (*sessions.Session, error)
}

// Config wires a Manager.
type Config struct {
	Store    requestStore
	Audit    auditor
	Settings settingsReader
	Agents   agentLink
	Sessions sessionStarter
	Live     *live.Hub // optional
	NewID    func() string
	Clock    clock.Clock
	Logger   *slog.Logger
	// NewTicker wakes the expiry loop (default sessions.NewRealTicker);
	// Tick is its period (default 1s).
	NewTicker func(time.Duration) sessions.Ticker
	Tick      time.Duration
}

// Manager runs the queue.
type Manager struct {
	cfg Config
	log *slog.Logger
	// deciders by kind; filled by Register before the broker serves, read
	// only afterwards.
	deciders map[string]Decider
}

// Decider decides the requests of a kind whose grant belongs to another
// package (elevation): the queue keeps the list, expiry, live events and the
// audit of decisions; the Decider grants and tells the end user.
type Decider interface {
	// Grant checks and prepares the approval of pending request r (it may
	// issue and audit what it grants) before the queue marks r approved.
	Grant(ctx context.Context, r store.Request, d Decision) (Grant, error)
	// Tell gives the end user a final outcome (wire.RequestDenied or
	// wire.RequestExpired) if the device is connected.
	Tell(r store.Request, status, message, by string)
	// MaxMinutes bounds an approval's duration on a device, for the portal.
	MaxMinutes(ctx context.Context, deviceID string) (int, error)
}

// Grant is an approval a Decider prepared.
type Grant struct {
	// Details go into the request.approved audit event.
	Details map[string]any
	// Deliver hands the grant over once the request is marked approved
	// (so two approvers never both deliver); nil when nothing is left to do.
	Deliver func() error
}

// Register makes d decide requests of kind. Call it while wiring the
// broker, before it serves.
func (m *Manager) Register(kind string, d Decider) {
	if m.deciders == nil {
		m.deciders = map[string]Decider{}
	}
	m.deciders[kind] = d
}

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, log: cfg.Logger.With("component", "requests")}
}

// supportPayload is the support kind's payload: the agent's own id for the
// request, which results quote back.
type supportPayload struct {
	AgentRequestID string `json:"agent_request_id"`
}

// HandleAgent takes a request message from an authenticated agent; it
// reports whether the message was one.
func (m *Manager) HandleAgent(deviceID string, msg wire.Message) bool {
	ctx := context.Background()
	if ack, ok := msg.(*wire.RequestOutcomeAck); ok {
		if err := m.Acked(ctx, deviceID, ack.RequestID); err != nil {
			m.log.Warn("request outcome acknowledgement not recorded", "device_id", deviceID, "agent_request_id", ack.RequestID, "err", err)
		}
		return true
	}
	sr, ok := msg.(*wire.SupportRequest)
	if !ok {
		return false
	}
	res := &wire.SupportRequestResult{RequestID: sr.RequestID, Status: wire.RequestQueued,
		Message: "Your request was sent to IT support. When someone picks it up you will be asked to allow the connection."}
	if _, err := m.Submit(ctx, deviceID, sr); err != nil {
		res.Status, res.Message = wire.RequestRefused, refusal(err)
	}
	if err := m.cfg.Agents.Send(deviceID, res); err != nil {
		m.log.Warn("tell agent about its request", "device_id", deviceID, "err", err)
	}
	return true
}

// refusal is what the end user reads when a request is not queued.
func refusal(err error) string {
	switch {
	case errors.Is(err, ErrNotAllowed):
		return "Remote support is not allowed on this device by your IT administrator."
	case errors.Is(err, ErrPending):
		return "You already have a support request waiting for IT support."
	}
	return "The request could not be sent; try again later."
}

// Submit queues an end user's support request from a device.
func (m *Manager) Submit(ctx context.Context, deviceID string, sr *wire.SupportRequest) (store.Request, error) {
	dev, err := m.cfg.Store.Device(ctx, deviceID)
	if err != nil {
		return store.Request{}, err
	}
	actor := "device:" + dev.ID
	details := map[string]any{"kind": KindSupport, "device_id": dev.ID, "hostname": dev.Hostname, "name": sr.Name,
		"email": sr.Email, "phone": sr.Phone, "reason": sr.Reason}
	allowed, err := m.cfg.Settings.Bool(ctx, dev.ID, settings.AllowRemoteSupport)
	if err != nil {
		return store.Request{}, err
	}
	if !allowed || dev.Revoked {
		details["refused"] = ErrNotAllowed.Error()
		if err := m.record(ctx, actor, "", "request.refused", "", details); err != nil {
			return store.Request{}, err
		}
		return store.Request{}, ErrNotAllowed
	}
	pending, err := m.cfg.Store.Requests(ctx, store.RequestPending, 1000)
	if err != nil {
		return store.Request{}, err
	}
	for _, p := range pending {
		if p.DeviceID == dev.ID && p.Kind == KindSupport {
			return store.Request{}, ErrPending
		}
	}
	payload, _ := json.Marshal(supportPayload{AgentRequestID: sr.RequestID})
	user := dev.User
	if user == "" {
		user = "(end user)"
	}
	r := store.Request{ID: m.cfg.NewID(), Kind: KindSupport, DeviceID: dev.ID, Requester: user, ContactName: sr.Name,
		ContactEmail: sr.Email, ContactPhone: sr.Phone, Reason: sr.Reason, Payload: string(payload)}
	return m.enqueue(ctx, dev, r, details)
}

// enqueue audits (request.created, as the device) and stores r as pending
// until requests.expiry_minutes from now, and tells portal pages.
func (m *Manager) enqueue(ctx context.Context, dev store.Device, r store.Request, details map[string]any) (store.Request, error) {
	mins, err := m.cfg.Settings.Int(ctx, dev.ID, settings.RequestExpiry)
	if err != nil {
		return store.Request{}, err
	}
	now := m.cfg.Clock.Now()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.Status, r.ExpiresAt = store.RequestPending, now.Add(time.Duration(mins)*time.Minute)
	if err := m.record(ctx, "device:"+dev.ID, "", "request.created", r.ID, details); err != nil {
		return store.Request{}, err
	}
	if err := m.cfg.Store.CreateRequest(ctx, r); err != nil {
		return store.Request{}, err
	}
	m.log.Info("request queued", "kind", r.Kind, "request_id", r.ID, "device_id", dev.ID)
	m.publish(r, dev.Hostname)
	return r, nil
}

// Queue adds a pending request of a kind with a Decider, which an agent
// sent through its outbox (so it may arrive twice, or long after it was
// made): r.ID must be derived from the agent's event, and a request already
// queued under it is left alone. r.CreatedAt is when the end user asked;
// it expires requests.expiry_minutes after it reaches the queue.
func (m *Manager) Queue(ctx context.Context, r store.Request) error {
	if _, ok := m.deciders[r.Kind]; !ok {
		return fmt.Errorf("%w: %s", ErrUnsupported, r.Kind)
	}
	if _, err := m.cfg.Store.Request(ctx, r.ID); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	dev, err := m.cfg.Store.Device(ctx, r.DeviceID)
	if err != nil {
		return err
	}
	details := map[string]any{"kind": r.Kind, "device_id": dev.ID, "hostname": dev.Hostname, "user": r.Requester, "reason": r.Reason}
	if _, err := m.enqueue(ctx, dev, r, details); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// Decision is who decides and why.
type Decision struct {
	By       string // portal username
	Comment  string
	SourceIP string
	// Minutes is how long an approval grants, for kinds that grant for a
	// time (elevation); their Decider checks it.
	Minutes int
	// Grant is the access request whose grant let the decider approve a
	// support request (the session they then view runs under it).
	Grant string
}

func (d Decision) validate() error {
	if len(d.Comment) > 500 {
		return ErrComment
	}
	for _, c := range d.Comment {
		if c < 0x20 || c == 0x7f {
			return ErrComment
		}
	}
	return nil
}

// pending loads a request that is still open; one past its expiry is
// expired on the spot.
func (m *Manager) pending(ctx context.Context, id string) (store.Request, error) {
	r, err := m.cfg.Store.Request(ctx, id)
	if err != nil {
		return r, err
	}
	if r.Kind == KindAccess { // decided by its policy in broker/access
		return r, fmt.Errorf("%w: %s", ErrUnsupported, r.Kind)
	}
	if r.Status != store.RequestPending {
		return r, store.ErrNotPending
	}
	if !m.cfg.Clock.Now().Before(r.ExpiresAt) {
		m.expire(ctx, r)
		return r, store.ErrNotPending
	}
	return r, nil
}

// Approve grants a pending request. For support, it starts the session as
// the approver (the end user is then asked to allow the connection, as for
// any session) and returns its id, so the approver's viewer can open.
func (m *Manager) Approve(ctx context.Context, id string, d Decision) (sessionID string, err error) {
	if err := d.validate(); err != nil {
		return "", err
	}
	r, err := m.pending(ctx, id)
	if err != nil {
		return "", err
	}
	if dec, ok := m.deciders[r.Kind]; ok {
		return "", m.approveBy(ctx, dec, r, d)
	}
	if r.Kind != KindSupport {
		return "", fmt.Errorf("%w: %s", ErrUnsupported, r.Kind)
	}
	s, err := m.cfg.Sessions.Start(ctx, sessions.Request{ID: m.cfg.NewID(), DeviceID: r.DeviceID, Requester: d.By, SourceIP: d.SourceIP,
		Grant: d.Grant})
	if err != nil {
		return "", err
	}
	if err := m.record(ctx, "user:"+d.By, d.SourceIP, "request.approved", r.ID, map[string]any{"kind": r.Kind, "device_id": r.DeviceID,
		"comment": d.Comment, "session_id": s.ID}); err != nil {
		s.End("the approval could not be recorded")
		return "", err
	}
	if err := m.cfg.Store.DecideRequest(ctx, r.ID, store.RequestApproved, d.By, d.Comment, s.ID, m.cfg.Clock.Now()); err != nil {
		s.End("the request was already decided")
		return "", err
	}
	r.Status = store.RequestApproved
	m.tell(r, wire.RequestApproved, d.Comment, d.By)
	m.publish(r, s.Hostname)
	return s.ID, nil
}

// approveBy approves r through its kind's Decider: the grant is prepared
// (and may be refused), the approval audited, r claimed as approved, and
// only then delivered.
func (m *Manager) approveBy(ctx context.Context, dec Decider, r store.Request, d Decision) error {
	g, err := dec.Grant(ctx, r, d)
	if err != nil {
		return err
	}
	details := map[string]any{"kind": r.Kind, "device_id": r.DeviceID, "comment": d.Comment}
	maps.Copy(details, g.Details)
	if err := m.record(ctx, "user:"+d.By, d.SourceIP, "request.approved", r.ID, details); err != nil {
		return err
	}
	if err := m.cfg.Store.DecideRequest(ctx, r.ID, store.RequestApproved, d.By, d.Comment, "", m.cfg.Clock.Now()); err != nil {
		return err
	}
	r.Status = store.RequestApproved
	m.publish(r, "")
	if g.Deliver == nil {
		return nil
	}
	if err := g.Deliver(); err != nil {
		m.log.Warn("approved request not delivered", "kind", r.Kind, "request_id", r.ID, "device_id", r.DeviceID, "err", err)
		return fmt.Errorf("approved, but not delivered to the device: %w", err)
	}
	return nil
}

// Deny refuses a pending request and tells the end user.
func (m *Manager) Deny(ctx context.Context, id string, d Decision) error {
	if err := d.validate(); err != nil {
		return err
	}
	r, err := m.pending(ctx, id)
	if err != nil {
		return err
	}
	if err := m.record(ctx, "user:"+d.By, d.SourceIP, "request.denied", r.ID, map[string]any{"kind": r.Kind, "device_id": r.DeviceID,
		"comment": d.Comment}); err != nil {
		return err
	}
	if err := m.cfg.Store.DecideRequest(ctx, r.ID, store.RequestDenied, d.By, d.Comment, "", m.cfg.Clock.Now()); err != nil {
		return err
	}
	r.Status = store.RequestDenied
	m.tell(r, wire.RequestDenied, d.Comment, d.By)
	m.publish(r, "")
	return nil
}

// ExpireDue expires every pending request past its deadline and tells
// their end users; it returns how many expired.
func (m *Manager) ExpireDue(ctx context.Context) (int, error) {
	due, err := m.cfg.Store.DueRequests(ctx, m.cfg.Clock.Now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range due {
		if r.Kind == KindAccess { // broker/access expires its own (and audits access.expired)
			continue
		}
		if m.expire(ctx, r) {
			n++
		}
	}
	return n, nil
}

func (m *Manager) expire(ctx context.Context, r store.Request) bool {
	if err := m.cfg.Store.DecideRequest(ctx, r.ID, store.RequestExpired, "", "", "", m.cfg.Clock.Now()); err != nil {
		if !errors.Is(err, store.ErrNotPending) {
			m.log.Error("expire request", "request_id", r.ID, "err", err)
		}
		return false
	}
	_ = m.record(ctx, "system", "", "request.expired", r.ID, map[string]any{"kind": r.Kind, "device_id": r.DeviceID})
	r.Status = store.RequestExpired
	m.tell(r, wire.RequestExpired, expiredText, "")
	m.publish(r, "")
	return true
}

// expiredText is what the end user reads about an expired request.
const expiredText = "Nobody from IT support picked up your request in time. Please try again or call the help desk."

// Run expires requests as their deadlines pass, until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	sessions.ExpireEvery(ctx, m.log, "expire requests", m.cfg.NewTicker, m.cfg.Tick, m.ExpireDue)
	return nil
}

// tell sends a request's outcome to its endpoint, if connected; one that
// is not acknowledged is sent again when the endpoint comes online
// (Resend).
func (m *Manager) tell(r store.Request, status, message, by string) {
	if dec, ok := m.deciders[r.Kind]; ok {
		if status != wire.RequestApproved {
			dec.Tell(r, status, message, by)
		}
		return
	}
	if r.Kind != KindSupport {
		return
	}
	var p supportPayload
	if json.Unmarshal([]byte(r.Payload), &p) != nil || p.AgentRequestID == "" {
		return
	}
	if err := m.cfg.Agents.Send(r.DeviceID, &wire.SupportRequestResult{RequestID: p.AgentRequestID, Status: status,
		Message: truncate(message, 1024), By: by, RequestedAt: r.CreatedAt}); err != nil {
		m.log.Info("request outcome not delivered", "request_id", r.ID, "device_id", r.DeviceID, "err", err)
	}
}

// Event is what portal pages receive about a request (type "request"):
// no contact details travel on the event stream; pages fetch them through
// the permission-checked API.
type Event struct {
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	Hostname string `json:"hostname,omitempty"`
}

func (m *Manager) publish(r store.Request, hostname string) {
	if m.cfg.Live == nil {
		return
	}
	m.cfg.Live.Publish(live.Event{Type: "request", ID: r.ID, Data: Event{Kind: r.Kind, Status: r.Status, Hostname: hostname}})
}

func (m *Manager) record(ctx context.Context, actor, ip, action, target string, details map[string]any) error {
	_, err := m.cfg.Audit.Append(ctx, audit.Event{Actor: actor, Action: action, Target: target, SourceIP: ip, Details: details})
	if err != nil {
		m.log.Error("audit request event", "action", action, "err", err)
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// View is a request as the portal and CLI see it.
type View struct {
	ID           string          `json:"id"`
	Kind         string          `json:"kind"`
	DeviceID     string          `json:"device_id"`
	Hostname     string          `json:"hostname"`
	Online       bool            `json:"online"`
	User         string          `json:"user"`
	ContactName  string          `json:"contact_name"`
	ContactEmail string          `json:"contact_email"`
	ContactPhone string          `json:"contact_phone"`
	Reason       string          `json:"reason"`
	Payload      json.RawMessage `json:"payload"`
	Status       string          `json:"status"`
	CreatedAt    time.Time       `json:"created_at"`
	ExpiresAt    time.Time       `json:"expires_at"`
	AgeSeconds   int             `json:"age_seconds"` // on the broker's clock
	DecidedBy    string          `json:"decided_by,omitempty"`
	DecidedAt    *time.Time      `json:"decided_at,omitempty"`
	Comment      string          `json:"comment,omitempty"`
	SessionID    string          `json:"session_id,omitempty"`
	// MaxMinutes bounds the duration an approval may grant (pending
	// requests of kinds that grant for a time: elevation).
	MaxMinutes int `json:"max_minutes,omitempty"`
}

// List returns requests with status ("" = any), newest first.
func (m *Manager) List(ctx context.Context, status string) ([]View, error) {
	rs, err := m.cfg.Store.Requests(ctx, status, 200)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Clock.Now()
	hosts := map[string]string{}
	out := make([]View, 0, len(rs))
	for _, r := range rs {
		h, ok := hosts[r.DeviceID]
		if !ok {
			if d, err := m.cfg.Store.Device(ctx, r.DeviceID); err == nil {
				h = d.Hostname
			}
			hosts[r.DeviceID] = h
		}
		v := View{ID: r.ID, Kind: r.Kind, DeviceID: r.DeviceID, Hostname: h, Online: m.cfg.Agents.Online(r.DeviceID), User: r.Requester,
			ContactName: r.ContactName, ContactEmail: r.ContactEmail, ContactPhone: r.ContactPhone, Reason: r.Reason,
			Payload: json.RawMessage(r.Payload), Status: r.Status, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
			AgeSeconds: int(max(0, now.Sub(r.CreatedAt)/time.Second)), DecidedBy: r.DecidedBy, Comment: r.Comment, SessionID: r.SessionID}
		if !r.DecidedAt.IsZero() {
			t := r.DecidedAt
			v.DecidedAt = &t
		}
		if dec, ok := m.deciders[r.Kind]; ok && r.Status == store.RequestPending {
			if v.MaxMinutes, err = dec.MaxMinutes(ctx, r.DeviceID); err != nil {
				return nil, err
			}
		}
		out = append(out, v)
	}
	return out, nil
}
