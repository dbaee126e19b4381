package elevation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"porthole/broker/requests"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// ErrOffline means an approval could not be delivered: the device is not
// connected. The request stays open.
var ErrOffline = errors.New("elevation: device is offline; approve when it is back, or issue a code by phone")

// Agents reaches connected agents.
type Agents interface {
	Online(deviceID string) bool
	Send(deviceID string, m wire.Message) error
}

// Queue is the approvals queue end users' requests go to
// (requests.Manager), which lists, expires and audits them and hands
// approvals and outcomes back to the Service (a requests.Decider).
type Queue interface {
	Queue(ctx context.Context, r store.Request) error
}

var (
	_ requests.Decider       = (*Service)(nil)
	_ requests.AgentReferrer = (*Service)(nil)
)

// requestPayload is an elevation request's part of the queue entry.
type requestPayload struct {
	// AgentRef is the agent's id of the request, quoted back in outcomes.
	AgentRef string `json:"agent_ref"`
	EventID  string `json:"event_id"`
	// User is the local account that asked (from the kernel, at the agent).
	User string `json:"user"`
}

// queueRequest puts an elevation.requested event in the queue, once: the
// entry's id comes from the device and the event, so a re-delivered event
// (or one from another device) never names another request.
func (s *Service) queueRequest(ctx context.Context, deviceID string, ev wire.AgentEvent, d wire.ElevationEvent) error {
	if d.RequestID == "" || d.User == "" || d.Note == "" {
		s.log.Warn("elevation request without id, user or reason not queued", "device_id", deviceID, "event_id", ev.ID)
		return nil
	}
	payload, err := json.Marshal(requestPayload{AgentRef: d.RequestID, EventID: ev.ID, User: d.User})
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(deviceID + "\x00" + ev.ID))
	return s.cfg.Requests.Queue(ctx, store.Request{ID: hex.EncodeToString(sum[:16]), Kind: requests.KindElevation, DeviceID: deviceID,
		Requester: d.User, Reason: d.Note, Payload: string(payload), CreatedAt: ev.At})
}

func payloadOf(r store.Request) (requestPayload, error) {
	var p requestPayload
	if err := json.Unmarshal([]byte(r.Payload), &p); err != nil || p.AgentRef == "" || p.User == "" {
		return p, fmt.Errorf("elevation request %s: bad payload", r.ID)
	}
	return p, nil
}

// Grant prepares the approval of an end user's request (requests.Decider):
// it issues a code for the request's device and user, for d.Minutes (up
// to elevation.max_minutes), audited like any issued code, and delivers it
// to the agent, which redeems it for that user, once the queue has marked
// the request approved. The device must be online (ErrOffline).
func (s *Service) Grant(ctx context.Context, r store.Request, d requests.Decision) (requests.Grant, error) {
	if d.Minutes == 0 {
		return requests.Grant{}, fmt.Errorf("%w: minutes required to approve an elevation request", wire.ErrInvalid)
	}
	p, err := payloadOf(r)
	if err != nil {
		return requests.Grant{}, err
	}
	if !s.cfg.Agents.Online(r.DeviceID) {
		return requests.Grant{}, ErrOffline
	}
	code, err := s.Issue(ctx, "user:"+d.By, d.SourceIP, r.DeviceID, wire.ElevationCodeRequest{User: p.User, Minutes: d.Minutes})
	if err != nil {
		return requests.Grant{}, err
	}
	msg := &wire.ElevationRequestCode{RequestID: p.AgentRef, User: p.User, Code: code.Code, By: d.By}
	return requests.Grant{
		Details: map[string]any{"user": p.User, "minutes": d.Minutes, "code_nonce": code.Nonce},
		Deliver: func() error {
			if err := s.cfg.Agents.Send(r.DeviceID, msg); err != nil {
				return fmt.Errorf("%w: %w", ErrOffline, err)
			}
			return nil
		},
	}, nil
}

// Tell sends the end user a denial or expiry (requests.Decider); the
// queue sends it again when an offline device comes back (requests.Resend).
func (s *Service) Tell(r store.Request, status, message, by string) {
	p, err := payloadOf(r)
	if err != nil {
		s.log.Warn("elevation request outcome not sent", "request_id", r.ID, "err", err)
		return
	}
	if len(message) > 1024 {
		message = message[:1024]
	}
	if err := s.cfg.Agents.Send(r.DeviceID, &wire.ElevationRequestResult{RequestID: p.AgentRef, Status: status, Message: message, By: by,
		RequestedAt: r.CreatedAt}); err != nil {
		s.log.Info("elevation request outcome not delivered", "request_id", r.ID, "device_id", r.DeviceID, "err", err)
	}
}

// AgentRef is the agent's id of an elevation request
// (requests.AgentReferrer), which its outcomes and acknowledgements quote.
func (s *Service) AgentRef(r store.Request) string {
	p, err := payloadOf(r)
	if err != nil {
		return ""
	}
	return p.AgentRef
}

// MaxMinutes is the device's elevation.max_minutes (requests.Decider).
func (s *Service) MaxMinutes(ctx context.Context, deviceID string) (int, error) {
	return s.cfg.Settings.Int(ctx, deviceID, settings.ElevationMaxMinutes)
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
