// Package agents runs the broker's side of the agent control link: it
// authenticates each agent websocket by an Ed25519 challenge, tracks which
// devices are online, stores their inventory and heartbeats, and lets the
// rest of the broker send messages to a connected agent.
package agents

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"porthole/broker/audit"
	"porthole/broker/live"
	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

// Errors, matched with errors.Is.
var (
	ErrOffline = errors.New("device is offline")
)

// devices is the part of the store the hub needs.
type devices interface {
	Device(ctx context.Context, id string) (store.Device, error)
	UpdateInventory(ctx context.Context, id, agentVersion string, inv wire.Inventory, seen time.Time) error
	TouchDevice(ctx context.Context, id string, seen time.Time) error
	TouchDevices(ctx context.Context, ids []string, seen time.Time) error
}

type auditor interface {
	Append(ctx context.Context, e audit.Event) (store.AuditRecord, error)
}

// Config wires a Hub.
type Config struct {
	Devices   devices
	Audit     auditor
	Live      *live.Hub
	Clock     clock.Clock
	Logger    *slog.Logger
	Heartbeat time.Duration // default 15s; a link silent for 3 beats is dead
	// TouchInterval is how often a linked device's last seen is stored
	// (default a minute, or each heartbeat when that is longer).
	TouchInterval time.Duration
	// OnMessage receives every message from an authenticated agent other
	// than heartbeats and inventory (session signaling, in later features).
	OnMessage func(deviceID string, m wire.Message)
	// OnOffline is called after a device's link ends.
	OnOffline func(deviceID string)
	// OnOnline is called once a device's link is up (after the welcome),
	// e.g. to send it its settings.
	OnOnline func(deviceID string)
	// Failures, if set, coalesces the audit records of failed agent
	// authentications per source address (audit.Coalescer), so a flood of
	// bad hellos cannot flood the audit log.
	Failures failures
}

// failures is where unauthenticated failures are audited, summed per key.
type failures interface {
	Add(ctx context.Context, key string, e audit.Event) error
}

// Hub tracks connected agents.
type Hub struct {
	cfg Config

	mu    sync.Mutex
	conns map[string]*conn // by device id; guarded by mu

	touchMu   sync.Mutex          // guards seen, lastFlush
	seen      map[string]struct{} // devices heard from since the last flush
	lastFlush time.Time
}

// New returns a Hub.
func New(cfg Config) *Hub {
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TouchInterval == 0 {
		cfg.TouchInterval = max(time.Minute, cfg.Heartbeat)
	}
	return &Hub{cfg: cfg, conns: map[string]*conn{}, seen: map[string]struct{}{}, lastFlush: cfg.Clock.Now()}
}

// conn is one authenticated agent link. Writes are serialised by wmu
// because a websocket allows one writer at a time.
type conn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
}

func (c *conn) send(m wire.Message, deadline time.Time) error {
	b, err := wire.Encode(m)
	if err != nil {
		return err
	}
	return c.sendFrame(b, deadline)
}

// heartbeatFrame is a heartbeat as wire.Encode writes it, which is how
// agents send theirs: with thousands of idle agents, heartbeats are nearly
// all the broker hears, so they skip the general decoder and encoder.
var heartbeatFrame = func() []byte {
	b, err := wire.Encode(&wire.Heartbeat{})
	if err != nil {
		panic(err) // at init, never after start-up
	}
	return b
}()

// decode is wire.Decode with the heartbeat's exact bytes recognised first
// (the same message the decoder would return for them).
func decode(data []byte) (wire.Message, error) {
	if bytes.Equal(data, heartbeatFrame) {
		return &wire.Heartbeat{}, nil
	}
	return wire.Decode(data)
}

func (c *conn) sendFrame(b []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(deadline)
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// Online reports whether the device has a live link.
func (h *Hub) Online(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.conns[id]
	return ok
}

// Count is how many devices have a live link.
func (h *Hub) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// Connected lists the devices with a live link.
func (h *Hub) Connected() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.conns))
	for id := range h.conns {
		out = append(out, id)
	}
	return out
}

// Send delivers m to a connected device.
func (h *Hub) Send(id string, m wire.Message) error {
	h.mu.Lock()
	c := h.conns[id]
	h.mu.Unlock()
	if c == nil {
		return fmt.Errorf("send to %s: %w", id, ErrOffline)
	}
	return c.send(m, time.Now().Add(10*time.Second))
}

// refuse sends a clear error to the peer, logs it, and returns it.
func (h *Hub) refuse(ws *websocket.Conn, code, msg string, attrs ...any) error {
	h.cfg.Logger.Warn("agent refused", append([]any{"code", code, "reason", msg}, attrs...)...)
	c := &conn{ws: ws}
	_ = c.send(&wire.Error{Code: code, Message: msg}, time.Now().Add(5*time.Second))
	c.wmu.Lock()
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, code), time.Now().Add(time.Second))
	c.wmu.Unlock()
	return fmt.Errorf("agent refused: %s: %s", code, msg)
}

// Serve runs one agent link until it ends. Serve closes ws.
func (h *Hub) Serve(ctx context.Context, ws *websocket.Conn, remoteIP string) error {
	defer ws.Close()
	ws.SetReadLimit(wire.MaxFrame)
	log := h.cfg.Logger.With("remote_ip", remoteIP)

	nonce := make([]byte, wire.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	first := &conn{ws: ws}
	if err := first.send(&wire.Challenge{Nonce: nonce}, time.Now().Add(10*time.Second)); err != nil {
		return fmt.Errorf("agent challenge: %w", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		return fmt.Errorf("agent hello: %w", err)
	}
	m, err := wire.Decode(data)
	if err != nil {
		return h.refuse(ws, wire.CodeBadRequest, "malformed hello: "+err.Error(), "remote_ip", remoteIP)
	}
	hello, ok := m.(*wire.Hello)
	if !ok {
		return h.refuse(ws, wire.CodeBadRequest, "expected hello, got "+m.Type(), "remote_ip", remoteIP)
	}
	dev, err := h.cfg.Devices.Device(ctx, hello.DeviceID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !ed25519.Verify(dev.PublicKey, wire.SignedPayload(nonce, hello.DeviceID), hello.Signature)) {
		h.auditFail(ctx, hello.DeviceID, remoteIP, "bad signature or unknown device")
		return h.refuse(ws, wire.CodeAuthFailed, "device authentication failed", "device_id", hello.DeviceID, "remote_ip", remoteIP)
	}
	if err != nil {
		_ = h.refuse(ws, wire.CodeInternal, "broker error, retry later")
		return fmt.Errorf("agent %s: %w", hello.DeviceID, err)
	}
	if dev.Revoked {
		h.auditFail(ctx, dev.ID, remoteIP, "device revoked")
		return h.refuse(ws, wire.CodeRevoked, "this device has been revoked by an administrator; re-enroll it", "device_id", dev.ID, "remote_ip", remoteIP)
	}

	c := &conn{ws: ws}
	h.mu.Lock()
	if _, dup := h.conns[dev.ID]; dup {
		h.mu.Unlock()
		return h.refuse(ws, wire.CodeAlreadyConnected, "another agent with this device key is already connected", "device_id", dev.ID, "remote_ip", remoteIP)
	}
	h.conns[dev.ID] = c
	h.mu.Unlock()
	log = log.With("device_id", dev.ID)
	touched := h.cfg.Clock.Now() // UpdateInventory below sets last seen
	defer func() {
		h.mu.Lock()
		delete(h.conns, dev.ID)
		h.mu.Unlock()
		h.touchMu.Lock()
		delete(h.seen, dev.ID)
		h.touchMu.Unlock()
		// The link's end is when the device was last seen (unless the
		// broker is shutting down: its store is about to close).
		if ctx.Err() == nil {
			if err := h.cfg.Devices.TouchDevice(ctx, dev.ID, h.cfg.Clock.Now()); err != nil {
				log.Error("touch device", "err", err)
			}
		}
		h.publish(dev.ID, false)
		if h.cfg.OnOffline != nil {
			h.cfg.OnOffline(dev.ID)
		}
		log.Info("agent offline")
	}()

	now := h.cfg.Clock.Now()
	if err := h.cfg.Devices.UpdateInventory(ctx, dev.ID, hello.AgentVersion, hello.Inventory, now); err != nil {
		return fmt.Errorf("agent %s inventory: %w", dev.ID, err)
	}
	if err := c.send(&wire.Welcome{HeartbeatSeconds: int(h.cfg.Heartbeat / time.Second)}, time.Now().Add(10*time.Second)); err != nil {
		return fmt.Errorf("agent %s welcome: %w", dev.ID, err)
	}
	log.Info("agent online", "agent_version", hello.AgentVersion)
	h.publish(dev.ID, true)
	if h.cfg.OnOnline != nil {
		h.cfg.OnOnline(dev.ID)
	}

	// Close the socket when ctx ends so the blocking read returns.
	stop := context.AfterFunc(ctx, func() {
		c.wmu.Lock()
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "broker shutting down"), time.Now().Add(time.Second))
		c.wmu.Unlock()
		ws.Close()
	})
	defer stop()

	for {
		_ = ws.SetReadDeadline(time.Now().Add(3 * h.cfg.Heartbeat))
		_, data, err := ws.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("agent %s link: %w", dev.ID, err)
		}
		m, err := decode(data)
		if err != nil {
			// A bad frame gets a clear error but does not end a healthy link.
			log.Warn("agent sent malformed message", "err", err)
			_ = c.send(&wire.Error{Code: wire.CodeBadRequest, Message: err.Error()}, time.Now().Add(5*time.Second))
			continue
		}
		now := h.cfg.Clock.Now()
		switch m := m.(type) {
		case *wire.Heartbeat:
			// Last seen is stored (and shown) about every TouchInterval
			// while the link is up, for all devices in one statement, and
			// once more when a link ends: one write per heartbeat of
			// every agent would be most of an idle broker's work.
			h.heard(ctx, dev.ID, now)
			if now.Sub(touched) >= h.cfg.TouchInterval {
				touched = now
				h.publish(dev.ID, true)
			}
			// Answer, so the agent can tell a dead broker from a quiet one.
			if err := c.sendFrame(heartbeatFrame, time.Now().Add(10*time.Second)); err != nil {
				return fmt.Errorf("agent %s heartbeat: %w", dev.ID, err)
			}
		case *wire.Inventory:
			if err := h.cfg.Devices.UpdateInventory(ctx, dev.ID, hello.AgentVersion, *m, now); err != nil {
				log.Error("update inventory", "err", err)
			}
			h.publish(dev.ID, true)
		default:
			if h.cfg.OnMessage != nil {
				h.cfg.OnMessage(dev.ID, m)
			} else {
				log.Warn("unexpected message from agent", "type", m.Type())
			}
		}
	}
}

func (h *Hub) auditFail(ctx context.Context, id, ip, why string) {
	e := audit.Event{Actor: "device:" + id, Action: "agent.auth_failed", Target: id, SourceIP: ip,
		Details: map[string]any{"reason": why}}
	var err error
	if h.cfg.Failures != nil {
		// Keyed by address, not by the claimed device id: the caller picks that.
		err = h.cfg.Failures.Add(ctx, e.Action+"|"+ip, e)
	} else {
		_, err = h.cfg.Audit.Append(ctx, e)
	}
	if err != nil {
		h.cfg.Logger.Error("audit agent auth failure", "err", err)
	}
}

// DeviceEvent is what portal pages receive about a device.
type DeviceEvent struct {
	Online   bool      `json:"online"`
	LastSeen time.Time `json:"last_seen"`
}

func (h *Hub) publish(id string, online bool) {
	if h.cfg.Live == nil {
		return
	}
	h.cfg.Live.Publish(live.Event{Type: "device", ID: id, Data: DeviceEvent{Online: online, LastSeen: h.cfg.Clock.Now()}})
}

// heard notes a heartbeat of device id; when TouchInterval has passed
// since the last flush, this caller stores every device heard from since
// then, in one statement.
func (h *Hub) heard(ctx context.Context, id string, now time.Time) {
	h.touchMu.Lock()
	h.seen[id] = struct{}{}
	if now.Sub(h.lastFlush) < h.cfg.TouchInterval {
		h.touchMu.Unlock()
		return
	}
	ids := make([]string, 0, len(h.seen))
	for d := range h.seen {
		ids = append(ids, d)
	}
	h.seen, h.lastFlush = make(map[string]struct{}, len(ids)), now
	h.touchMu.Unlock()
	if err := h.cfg.Devices.TouchDevices(ctx, ids, now); err != nil {
		h.cfg.Logger.Error("touch devices", "count", len(ids), "err", err)
	}
}

// Disconnect closes a device's link (after revocation, say).
func (h *Hub) Disconnect(id, why string) {
	h.mu.Lock()
	c := h.conns[id]
	h.mu.Unlock()
	if c == nil {
		return
	}
	_ = c.send(&wire.Error{Code: wire.CodeRevoked, Message: why}, time.Now().Add(2*time.Second))
	c.ws.Close()
}
