package elevation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"porthole/broker/audit"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// Audit actions of requests.
const (
	ApprovedAction = "elevation.request_approved"
	DeniedAction   = "elevation.request_denied"
)

// ErrOffline means an approval could not be delivered: the device is not
// connected. The request stays open.
var ErrOffline = errors.New("elevation: device is offline; approve when it is back, or issue a code by phone")

// Agents reaches connected agents.
type Agents interface {
	Online(deviceID string) bool
	Send(deviceID string, m wire.Message) error
}

// Request is an end user's elevation request as the API shows it.
type Request struct {
	ID          string    `json:"id"`
	DeviceID    string    `json:"device_id"`
	Hostname    string    `json:"hostname"`
	AgentRef    string    `json:"agent_ref"`
	User        string    `json:"user"`
	Reason      string    `json:"reason"`
	RequestedAt time.Time `json:"requested_at"`
	State       string    `json:"state"`
	DecidedBy   string    `json:"decided_by,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	Minutes     int       `json:"minutes,omitempty"`
}

// storeRequest records an elevation.requested event once.
func (s *Service) storeRequest(ctx context.Context, deviceID string, ev wire.AgentEvent, d wire.ElevationEvent) error {
	if d.RequestID == "" || d.User == "" || d.Note == "" {
		s.log.Warn("elevation request without id, user or reason not stored", "device_id", deviceID, "event_id", ev.ID)
		return nil
	}
	return s.cfg.Store.AddElevationRequest(ctx, store.ElevationRequest{ID: newID(), DeviceID: deviceID, EventID: ev.ID,
		AgentRef: d.RequestID, User: d.User, Note: d.Note, RequestedAt: ev.At})
}

// Requests lists requests, open ones first.
func (s *Service) Requests(ctx context.Context) ([]Request, error) {
	rs, err := s.cfg.Store.ElevationRequests(ctx, 200)
	if err != nil {
		return nil, err
	}
	hosts := map[string]string{}
	out := make([]Request, 0, len(rs))
	for _, r := range rs {
		if _, ok := hosts[r.DeviceID]; !ok {
			if d, err := s.cfg.Store.Device(ctx, r.DeviceID); err == nil {
				hosts[r.DeviceID] = d.Hostname
			}
		}
		out = append(out, requestView(r, hosts[r.DeviceID]))
	}
	return out, nil
}

func requestView(r store.ElevationRequest, host string) Request {
	return Request{ID: r.ID, DeviceID: r.DeviceID, Hostname: host, AgentRef: r.AgentRef, User: r.User, Reason: r.Note,
		RequestedAt: r.RequestedAt, State: r.State, DecidedBy: r.DecidedBy, DecidedAt: r.DecidedAt, Minutes: r.Minutes}
}

// Approve issues a code for the request's device and user (audited like any
// issued code) and delivers it to the agent, which redeems it for that
// user. The device must be online (ErrOffline); a decided request is
// store.ErrConflict.
func (s *Service) Approve(ctx context.Context, actor, ip, id string, dec wire.ElevationDecision) (Request, error) {
	if err := dec.Validate(); err != nil {
		return Request{}, err
	}
	if dec.Minutes == 0 {
		return Request{}, fmt.Errorf("%w: minutes required to approve", wire.ErrInvalid)
	}
	r, err := s.cfg.Store.ElevationRequest(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if r.State != store.RequestOpen {
		return Request{}, fmt.Errorf("elevation request already %s: %w", r.State, store.ErrConflict)
	}
	if !s.cfg.Agents.Online(r.DeviceID) {
		return Request{}, ErrOffline
	}
	code, err := s.Issue(ctx, actor, ip, r.DeviceID, wire.ElevationCodeRequest{User: r.User, Minutes: dec.Minutes})
	if err != nil {
		return Request{}, err
	}
	if _, err := s.cfg.Audit.Append(ctx, audit.Event{Actor: actor, Action: ApprovedAction, Target: r.DeviceID, SourceIP: ip,
		Details: map[string]any{"request_id": r.ID, "user": r.User, "minutes": dec.Minutes, "code_nonce": code.Nonce, "comment": dec.Comment}}); err != nil {
		return Request{}, err
	}
	now := s.cfg.Clock.Now()
	if err := s.cfg.Store.DecideElevationRequest(ctx, r.ID, store.RequestApproved, actor, now, dec.Minutes); err != nil {
		return Request{}, err
	}
	if err := s.cfg.Agents.Send(r.DeviceID, &wire.ElevationRequestCode{RequestID: r.AgentRef, User: r.User, Code: code.Code}); err != nil {
		return Request{}, fmt.Errorf("%w: %w", ErrOffline, err)
	}
	r.State, r.DecidedBy, r.DecidedAt, r.Minutes = store.RequestApproved, actor, now, dec.Minutes
	return requestView(r, ""), nil
}

// Deny closes a request without elevation (audited).
func (s *Service) Deny(ctx context.Context, actor, ip, id string, dec wire.ElevationDecision) (Request, error) {
	if err := dec.Validate(); err != nil {
		return Request{}, err
	}
	r, err := s.cfg.Store.ElevationRequest(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if r.State != store.RequestOpen {
		return Request{}, fmt.Errorf("elevation request already %s: %w", r.State, store.ErrConflict)
	}
	if _, err := s.cfg.Audit.Append(ctx, audit.Event{Actor: actor, Action: DeniedAction, Target: r.DeviceID, SourceIP: ip,
		Details: map[string]any{"request_id": r.ID, "user": r.User, "comment": dec.Comment}}); err != nil {
		return Request{}, err
	}
	now := s.cfg.Clock.Now()
	if err := s.cfg.Store.DecideElevationRequest(ctx, r.ID, store.RequestDenied, actor, now, 0); err != nil {
		return Request{}, err
	}
	r.State, r.DecidedBy, r.DecidedAt = store.RequestDenied, actor, now
	return requestView(r, ""), nil
}

// Policy is the elevation policy that applies to a device.
func (s *Service) Policy(ctx context.Context, deviceID string) (wire.ElevationPolicy, error) {
	maxMin, err := s.cfg.Settings.Int(ctx, deviceID, settings.ElevationMaxMinutes)
	if err != nil {
		return wire.ElevationPolicy{}, err
	}
	v, err := s.cfg.Settings.Effective(ctx, deviceID, settings.ElevationSelfApproveGroups)
	if err != nil {
		return wire.ElevationPolicy{}, err
	}
	p := wire.ElevationPolicy{SelfApproveGroups: []string{}, MaxMinutes: maxMin}
	for _, g := range strings.Split(v.Value, ",") {
		if g = strings.TrimSpace(g); g != "" {
			p.SelfApproveGroups = append(p.SelfApproveGroups, g)
		}
	}
	return p, nil
}

// PushPolicy sends a device its policy (when it connects). Failures are
// logged: the agent keeps its last policy and gets the new one next time.
func (s *Service) PushPolicy(ctx context.Context, deviceID string) {
	p, err := s.Policy(ctx, deviceID)
	if err == nil {
		err = s.cfg.Agents.Send(deviceID, &p)
	}
	if err != nil {
		s.log.Warn("elevation policy not sent", "device_id", deviceID, "err", err)
	}
}

// SettingChanged pushes the policy to the connected devices a change of an
// elevation.* setting in scope affects.
func (s *Service) SettingChanged(ctx context.Context, scope, key string) {
	if !strings.HasPrefix(key, Area+".") {
		return
	}
	if dev, ok := strings.CutPrefix(scope, "device:"); ok {
		if s.cfg.Agents.Online(dev) {
			s.PushPolicy(ctx, dev)
		}
		return
	}
	devs, err := s.cfg.Store.Devices(ctx)
	if err != nil {
		s.log.Warn("elevation policy not pushed", "err", err)
		return
	}
	for _, d := range devs {
		if s.cfg.Agents.Online(d.ID) {
			s.PushPolicy(ctx, d.ID)
		}
	}
}

// newID is 128 random bits in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
