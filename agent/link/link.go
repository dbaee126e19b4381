// Package link is the agent's side of the control link: enrollment over
// HTTPS, then one outbound websocket to the broker that authenticates by
// signing the broker's challenge with the device key (no bearer secret on
// the wire), sends heartbeats and inventory, and reconnects with
// exponential backoff and jitter.
//
// Every broker message has exactly one owner: the agent registers one
// handler per message type with On before Run, and the link routes each
// message it reads to that handler. Adding a message is one On line.
package link

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"porthole/internal/wire"
)

// Errors, matched with errors.Is.
var (
	// ErrRevoked is permanent: an administrator revoked this device.
	ErrRevoked = errors.New("device revoked by the broker")
	// ErrAuthFailed is permanent: the broker does not know this key.
	ErrAuthFailed = errors.New("broker refused the device key")
)

// HTTPClient returns a client trusting the system roots plus caPEM, if given.
func HTTPClient(caPEM string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caPEM != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(caPEM)) {
			return nil, errors.New("no certificate in CA file")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// Enroll registers pub with the broker using an enrollment token. A broker
// that is busy or limiting enrollments from this address (429 or 503, as
// when a whole site behind one NAT enrolls at once) is asked again after its
// Retry-After (at most enrollMaxWait each time), until ctx ends.
func Enroll(ctx context.Context, client *http.Client, brokerURL, token string, pub ed25519.PublicKey, inv wire.Inventory) (wire.EnrollResponse, error) {
	body, err := json.Marshal(wire.EnrollRequest{Token: token, PublicKey: pub, Inventory: inv})
	if err != nil {
		return wire.EnrollResponse{}, err
	}
	for {
		out, wait, err := enrollOnce(ctx, client, brokerURL, body)
		if wait == 0 {
			return out, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return out, fmt.Errorf("%w (gave up waiting: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// enrollMaxWait bounds one wait between enrollment attempts.
const enrollMaxWait = time.Minute

// enrollOnce posts one enrollment. A non-zero wait means the broker asked
// to try again after it.
func enrollOnce(ctx context.Context, client *http.Client, brokerURL string, body []byte) (wire.EnrollResponse, time.Duration, error) {
	var out wire.EnrollResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(brokerURL, "/")+"/api/agent/enroll", bytes.NewReader(body))
	if err != nil {
		return out, 0, fmt.Errorf("enroll: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return out, 0, fmt.Errorf("enroll: cannot reach broker: %w", err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusCreated {
		var e struct{ Error string }
		_ = json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = res.Status
		}
		err := fmt.Errorf("enroll refused: %s", e.Error)
		if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
			return out, retryAfter(res.Header.Get("Retry-After")), err
		}
		return out, 0, err
	}
	if err := json.Unmarshal(data, &out); err != nil || out.DeviceID == "" {
		return out, 0, fmt.Errorf("enroll: bad broker answer: %v", err)
	}
	return out, 0, nil
}

// retryAfter reads a Retry-After in seconds (default 2 s), bounded by
// enrollMaxWait.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return 2 * time.Second
	}
	return min(time.Duration(n)*time.Second, enrollMaxWait)
}

// Config wires a Link.
type Config struct {
	BrokerURL string
	DeviceID  string
	Key       ed25519.PrivateKey
	Version   string
	TLS       *tls.Config // nil = system roots
	// Inventory is called at each connect.
	Inventory func(ctx context.Context) wire.Inventory
	Logger    *slog.Logger
	// MinBackoff and MaxBackoff bound reconnect delays (defaults 1s, 60s).
	MinBackoff, MaxBackoff time.Duration
}

// Link is the agent's connection to the broker.
type Link struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	ws        *websocket.Conn // current connection, nil while disconnected; guarded by mu
	connected chan struct{}   // closed while connected; replaced on disconnect; guarded by mu
	wmu       sync.Mutex      // serialises websocket writes

	hmu      sync.RWMutex
	handlers map[string]func(context.Context, wire.Message) // by wire message type; guarded by hmu
}

// On makes h the handler of the broker's messages of type M (a wire
// message pointer type such as *wire.SessionStart). Call it before Run.
// A type has one handler: registering it twice is a wiring mistake and
// panics, like http.ServeMux with a duplicate pattern.
func On[M wire.Message](l *Link, h func(ctx context.Context, m M)) {
	var zero M // a nil pointer: Type needs no fields
	typ := zero.Type()
	l.hmu.Lock()
	defer l.hmu.Unlock()
	if _, dup := l.handlers[typ]; dup {
		panic("link: a second handler for broker message " + typ)
	}
	l.handlers[typ] = func(ctx context.Context, m wire.Message) { h(ctx, m.(M)) }
}

// route hands m to the handler registered for its type. Handlers run on
// the link's read loop: a handler with slow work starts its own goroutine.
func (l *Link) route(ctx context.Context, m wire.Message) {
	l.hmu.RLock()
	h := l.handlers[m.Type()]
	l.hmu.RUnlock()
	if h == nil {
		l.log.Warn("unhandled broker message", "type", m.Type())
		return
	}
	h(ctx, m)
}

// New returns a Link; Run connects it.
func New(cfg Config) *Link {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = time.Minute
	}
	return &Link{cfg: cfg, log: cfg.Logger.With("component", "link"), connected: make(chan struct{}),
		handlers: map[string]func(context.Context, wire.Message){}}
}

// Send writes m on the current connection.
func (l *Link) Send(m wire.Message) error {
	l.mu.Lock()
	ws := l.ws
	l.mu.Unlock()
	if ws == nil {
		return errors.New("link: not connected")
	}
	return l.write(ws, m)
}

// Connected returns a channel closed once the link is up (for tests and status).
func (l *Link) Connected() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.connected
}

func (l *Link) write(ws *websocket.Conn, m wire.Message) error {
	b, err := wire.Encode(m)
	if err != nil {
		return err
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return ws.WriteMessage(websocket.TextMessage, b)
}

// Run keeps the link up until ctx ends or the broker refuses the device for
// good (ErrRevoked, ErrAuthFailed).
func (l *Link) Run(ctx context.Context) error {
	attempt := 0
	for {
		start := time.Now()
		err := l.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrRevoked) || errors.Is(err, ErrAuthFailed) {
			l.log.Error("broker refused this device", "err", err)
			return err
		}
		if time.Since(start) > 30*time.Second {
			// It was a good connection: the broker restarted or the
			// network blinked, and every agent of the fleet saw it at the
			// same moment. Retry soon, but spread over several seconds.
			attempt = goodLinkAttempt
		}
		d := l.backoff(attempt)
		attempt++
		l.log.Warn("link down, reconnecting", "err", err, "retry_in", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
	}
}

// goodLinkAttempt is the backoff step the first retry after a long-lived
// link uses: with the default 1s minimum, uniformly within 0.5–8.5s, so
// 10,000 agents come back at about 1,200 a second rather than all within
// one second (make load measures it).
const goodLinkAttempt = 3

// backoff is exponential with full jitter: a fleet of agents reconnecting
// after a broker restart spreads out instead of stampeding.
func (l *Link) backoff(attempt int) time.Duration {
	d := l.cfg.MinBackoff << min(attempt, 16)
	if d > l.cfg.MaxBackoff || d <= 0 {
		d = l.cfg.MaxBackoff
	}
	return l.cfg.MinBackoff/2 + rand.N(d)
}

func wsURL(broker string) (string, error) {
	u, err := url.Parse(broker)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	default:
		return "", fmt.Errorf("broker URL %q: want http or https", broker)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api/agent/ws"
	return u.String(), nil
}

// session runs one connection from dial to failure.
func (l *Link) session(ctx context.Context) error {
	u, err := wsURL(l.cfg.BrokerURL)
	if err != nil {
		return err
	}
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second, TLSClientConfig: l.cfg.TLS, Proxy: http.ProxyFromEnvironment}
	ws, res, err := d.DialContext(ctx, u, nil)
	if err != nil {
		if res != nil {
			return fmt.Errorf("dial %s: %w (HTTP %s)", u, err, res.Status)
		}
		return fmt.Errorf("dial %s: %w", u, err)
	}
	defer ws.Close()
	ws.SetReadLimit(wire.MaxFrame)
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()

	// Challenge → hello → welcome.
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	m, err := l.read(ws)
	if err != nil {
		return err
	}
	ch, ok := m.(*wire.Challenge)
	if !ok {
		return fmt.Errorf("broker sent %s before challenge", m.Type())
	}
	inv := l.cfg.Inventory(ctx)
	sig := ed25519.Sign(l.cfg.Key, wire.SignedPayload(ch.Nonce, l.cfg.DeviceID))
	if err := l.write(ws, &wire.Hello{DeviceID: l.cfg.DeviceID, Signature: sig, AgentVersion: l.cfg.Version, Inventory: inv}); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	m, err = l.read(ws)
	if err != nil {
		return err
	}
	wel, ok := m.(*wire.Welcome)
	if !ok {
		return fmt.Errorf("broker sent %s instead of welcome", m.Type())
	}
	beat := time.Duration(wel.HeartbeatSeconds) * time.Second
	l.log.Info("connected to broker", "device_id", l.cfg.DeviceID)

	l.mu.Lock()
	l.ws = ws
	close(l.connected)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.ws = nil
		l.connected = make(chan struct{})
		l.mu.Unlock()
	}()

	// Heartbeats until this session ends; session waits for the goroutine.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(beat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := l.write(ws, &wire.Heartbeat{}); err != nil {
					ws.Close() // the read loop reports the failure
					return
				}
			case <-done:
				return
			}
		}
	}()
	defer wg.Wait()
	defer close(done)
	for {
		_ = ws.SetReadDeadline(time.Now().Add(3 * beat))
		m, err := l.read(ws)
		if err != nil {
			return err
		}
		if _, ok := m.(*wire.Heartbeat); ok {
			continue
		}
		l.route(ctx, m)
	}
}

// read returns the next valid message; a broker error frame becomes an error.
func (l *Link) read(ws *websocket.Conn) (wire.Message, error) {
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		m, err := wire.Decode(data)
		if err != nil {
			l.log.Warn("broker sent malformed message", "err", err)
			continue
		}
		if e, ok := m.(*wire.Error); ok {
			switch e.Code {
			case wire.CodeRevoked:
				return nil, fmt.Errorf("%w: %s", ErrRevoked, e.Message)
			case wire.CodeAuthFailed:
				return nil, fmt.Errorf("%w: %s", ErrAuthFailed, e.Message)
			case wire.CodeBadRequest:
				l.log.Warn("broker rejected a message", "message", e.Message)
				continue
			}
			return nil, fmt.Errorf("broker: %s: %s", e.Code, e.Message)
		}
		return m, nil
	}
}
