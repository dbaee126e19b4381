// Package devicekey keeps each enrolled device's elevation-code key — the
// per-device secret its agent checks temporary admin codes with, offline —
// sealed at rest, and rotates it on an admin's request over the agent link.
//
// Keys are sealed with broker/secretbox (the key outside the database)
// and bound to their device id, so a database backup mints no codes and a
// sealed key copied onto another device's row does not open.
//
// A rotation never loses a key and ends the old one's codes:
//
//  1. Rotate makes a new key, audits device.key_rotation_started, stores it
//     beside the key in force and sends it to the agent (now, or when the
//     agent next connects). Codes are still issued with the old key.
//  2. The agent stores the new key durably, keeps the old one too, and only
//     then acknowledges (device_key_ack).
//  3. On the acknowledgement the broker audits device.key_rotated, puts the
//     new key in force (codes are issued with it from now on) and tells the
//     agent (device_key_done), which forgets the old key: from then on a
//     code of the old key is refused.
//
// Messages lost with a dropped link are resent when the agent reconnects
// (done first, then a still-pending key), and each step is idempotent.
package devicekey

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"porthole/broker/audit"
	"porthole/broker/secretbox"
	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

// Audit actions.
const (
	ActionRotationStarted = "device.key_rotation_started"
	ActionRotated         = "device.key_rotated"
	ActionSealed          = "device.secrets_sealed"
)

// Errors, matched with errors.Is.
var (
	// ErrRevoked: a revoked device's key is not rotated (it gets no codes).
	ErrRevoked = errors.New("device is revoked")
	// ErrNoKey: the device has no sealed key (a row the broker could not read).
	ErrNoKey = errors.New("device has no elevation key")
)

// keyStore is the part of the store this package needs.
type keyStore interface {
	DeviceKeys(ctx context.Context, id string) (store.DeviceKeys, error)
	StartKeyRotation(ctx context.Context, id, rotation string, next []byte) error
	CompleteKeyRotation(ctx context.Context, id, rotation string, at time.Time) (bool, error)
	SealPlaintextSecrets(ctx context.Context, seal func(deviceID string, secret []byte) ([]byte, error)) (int, error)
}

type auditor interface {
	Append(ctx context.Context, e audit.Event) (store.AuditRecord, error)
}

// agents reaches connected agents.
type agents interface {
	Online(id string) bool
	Send(id string, m wire.Message) error
}

// Config wires a Service. Store, Box, Audit, Agents and NewID are required.
type Config struct {
	Store  keyStore
	Box    *secretbox.Box
	Audit  auditor
	Agents agents
	NewID  func() string // rotation ids (auth.NewID)
	Clock  clock.Clock
	Logger *slog.Logger
}

// Service seals, opens and rotates device keys. Safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	waiters map[string][]chan struct{} // by rotation id; guarded by mu
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "devicekey"), waiters: map[string][]chan struct{}{}}
}

// ad binds a sealed key to its device.
func ad(deviceID string) []byte { return []byte("porthole device key v1\x00" + deviceID) }

// NewKey returns a fresh device key and its sealed form for deviceID.
func (s *Service) NewKey(deviceID string) (key, sealed []byte, err error) {
	key = make([]byte, wire.DeviceKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, fmt.Errorf("devicekey: %w", err)
	}
	sealed, err = s.Seal(deviceID, key)
	return key, sealed, err
}

// Seal seals key for deviceID.
func (s *Service) Seal(deviceID string, key []byte) ([]byte, error) {
	return s.cfg.Box.Seal(key, ad(deviceID))
}

func (s *Service) open(deviceID string, sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, fmt.Errorf("devicekey: %s: %w", deviceID, ErrNoKey)
	}
	key, err := s.cfg.Box.Open(sealed, ad(deviceID))
	if err != nil {
		return nil, fmt.Errorf("devicekey: %s: %w", deviceID, err)
	}
	return key, nil
}

// Secret returns the device's key in force, the one codes are issued with.
func (s *Service) Secret(ctx context.Context, deviceID string) ([]byte, error) {
	k, err := s.cfg.Store.DeviceKeys(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	return s.open(deviceID, k.Current)
}

// SealPlaintext seals the keys an older broker stored in plaintext, once,
// at start, and audits how many it sealed.
func (s *Service) SealPlaintext(ctx context.Context) (int, error) {
	n, err := s.cfg.Store.SealPlaintextSecrets(ctx, s.Seal)
	if err != nil || n == 0 {
		return n, err
	}
	s.log.Info("sealed plaintext device keys", "count", n)
	_, err = s.cfg.Audit.Append(ctx, audit.Event{Actor: "system", Action: ActionSealed, Details: map[string]any{"count": n}})
	return n, err
}

// Rotation is a rotation's state as the API shows it.
type Rotation struct {
	DeviceID string `json:"device_id"`
	ID       string `json:"rotation_id"`
	// State is "pending" (the agent has not stored the new key yet) or
	// "done" (the new key is in force; codes of the old one are refused).
	State     string    `json:"state"`
	RotatedAt time.Time `json:"rotated_at,omitzero"`
}

// Rotate starts a rotation of deviceID's key for actor (audited first:
// no audit, no rotation) and sends the new key if the agent is online.
// A rotation still pending is replaced.
func (s *Service) Rotate(ctx context.Context, actor, ip, deviceID string) (Rotation, error) {
	k, err := s.cfg.Store.DeviceKeys(ctx, deviceID)
	if err != nil {
		return Rotation{}, err
	}
	if k.Revoked {
		return Rotation{}, ErrRevoked
	}
	id := s.cfg.NewID()
	_, sealed, err := s.NewKey(deviceID)
	if err != nil {
		return Rotation{}, err
	}
	details := map[string]any{"rotation_id": id, "online": s.cfg.Agents.Online(deviceID)}
	if k.Pending() {
		details["replaces"] = k.Rotation
	}
	if _, err := s.cfg.Audit.Append(ctx, audit.Event{Actor: actor, Action: ActionRotationStarted, Target: deviceID, SourceIP: ip,
		Details: details}); err != nil {
		return Rotation{}, err
	}
	if err := s.cfg.Store.StartKeyRotation(ctx, deviceID, id, sealed); err != nil {
		return Rotation{}, err
	}
	s.Online(ctx, deviceID)
	return Rotation{DeviceID: deviceID, ID: id, State: "pending"}, nil
}

// Status returns the state of rotation id on deviceID.
func (s *Service) Status(ctx context.Context, deviceID, id string) (Rotation, error) {
	k, err := s.cfg.Store.DeviceKeys(ctx, deviceID)
	if err != nil {
		return Rotation{}, err
	}
	r := Rotation{DeviceID: deviceID, ID: id, State: "pending"}
	switch {
	case k.InForce == id:
		r.State, r.RotatedAt = "done", k.RotatedAt
	case k.Rotation != id:
		r.State = "replaced"
	}
	return r, nil
}

// Wait blocks until rotation id completes or ctx ends; it reports whether
// it completed.
func (s *Service) Wait(ctx context.Context, deviceID, id string) bool {
	ch := make(chan struct{})
	s.mu.Lock()
	s.waiters[id] = append(s.waiters[id], ch)
	s.mu.Unlock()
	defer s.unwait(id, ch)
	// It may have completed before we registered.
	if r, err := s.Status(ctx, deviceID, id); err == nil && r.State == "done" {
		return true
	}
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Service) unwait(id string, ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.waiters[id]
	for i, w := range ws {
		if w == ch {
			s.waiters[id] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(s.waiters[id]) == 0 {
		delete(s.waiters, id)
	}
}

// Online brings a connecting agent up to date: it confirms the rotation in
// force (the agent may have missed it) and sends a pending key. The hub
// calls it when a device comes online; Rotate calls it for an online one.
func (s *Service) Online(ctx context.Context, deviceID string) {
	if !s.cfg.Agents.Online(deviceID) {
		return
	}
	k, err := s.cfg.Store.DeviceKeys(ctx, deviceID)
	if err != nil {
		s.log.Error("device keys", "device_id", deviceID, "err", err)
		return
	}
	if k.InForce != "" {
		s.send(deviceID, &wire.DeviceKeyDone{RotationID: k.InForce})
	}
	if !k.Pending() {
		return
	}
	key, err := s.open(deviceID, k.Next)
	if err != nil {
		s.log.Error("open the pending device key", "device_id", deviceID, "err", err)
		return
	}
	s.send(deviceID, &wire.DeviceKey{RotationID: k.Rotation, Secret: key})
}

func (s *Service) send(deviceID string, m wire.Message) {
	if err := s.cfg.Agents.Send(deviceID, m); err != nil {
		// Resent when the agent next connects.
		s.log.Info("device key message not delivered", "device_id", deviceID, "type", m.Type(), "err", err)
	}
}

// HandleAgent takes an agent's acknowledgement of a stored key; it
// reports whether m was one.
func (s *Service) HandleAgent(deviceID string, m wire.Message) bool {
	ack, ok := m.(*wire.DeviceKeyAck)
	if !ok {
		return false
	}
	if err := s.complete(context.Background(), deviceID, ack.RotationID); err != nil {
		s.log.Error("complete device key rotation", "device_id", deviceID, "rotation_id", ack.RotationID, "err", err)
	}
	return true
}

// complete puts the acknowledged key in force (audited first) and tells
// the agent; an acknowledgement of a rotation already done is answered
// again, one of a replaced rotation is ignored.
func (s *Service) complete(ctx context.Context, deviceID, id string) error {
	k, err := s.cfg.Store.DeviceKeys(ctx, deviceID)
	if err != nil {
		return err
	}
	if k.InForce == id {
		s.send(deviceID, &wire.DeviceKeyDone{RotationID: id})
		return nil
	}
	if !k.Pending() || k.Rotation != id {
		s.log.Info("acknowledgement of a replaced key rotation ignored", "device_id", deviceID, "rotation_id", id)
		return nil
	}
	if _, err := s.cfg.Audit.Append(ctx, audit.Event{Actor: "device:" + deviceID, Action: ActionRotated, Target: deviceID,
		Details: map[string]any{"rotation_id": id}}); err != nil {
		return err // not in force: the agent acknowledges again when the key is resent
	}
	done, err := s.cfg.Store.CompleteKeyRotation(ctx, deviceID, id, s.cfg.Clock.Now())
	if err != nil || !done {
		return err
	}
	s.send(deviceID, &wire.DeviceKeyDone{RotationID: id})
	s.mu.Lock()
	for _, ch := range s.waiters[id] {
		close(ch)
	}
	delete(s.waiters, id)
	s.mu.Unlock()
	return nil
}
