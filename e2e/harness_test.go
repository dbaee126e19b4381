package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"porthole/agent"
	"porthole/broker"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

// env is one running broker with its first admin.
type env struct {
	t        *testing.T
	URL      string
	Password string // the first-run admin's
	DataDir  string
	cancel   context.CancelFunc
	done     chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var pwLine = regexp.MustCompile(`password:\s+(\S+)`)

// startBroker runs a broker on 127.0.0.1 with a fresh data dir; clk may be nil.
func startBroker(t *testing.T, clk clock.Clock) *env {
	t.Helper()
	dir := t.TempDir()
	return startBrokerIn(t, dir, clk)
}

func startBrokerIn(t *testing.T, dir string, clk clock.Clock) *env {
	t.Helper()
	return startBrokerWith(t, dir, clk, nil)
}

// startBrokerAt runs a broker on listen (a restarted broker keeps its
// address, which enrolled agents know).
func startBrokerAt(t *testing.T, dir, listen string, clk clock.Clock) *env {
	return startBrokerWith(t, dir, clk, func(c *broker.Config) { c.Listen = listen })
}

// startBrokerWith is startBrokerIn with a chance to adjust the config.
func startBrokerWith(t *testing.T, dir string, clk clock.Clock, adjust func(*broker.Config)) *env {
	t.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Out: out, Clock: clk, Heartbeat: time.Second, Logger: testLogger(t)}
	if adjust != nil {
		adjust(&cfg)
	}
	var srv *broker.Server
	var err error
	// A restart on a fixed address: the old listener has just closed, so
	// retry briefly.
	waitFor(t, "listen on "+cfg.Listen, 10*time.Second, func() bool {
		srv, err = broker.New(ctx, cfg)
		return err == nil || !strings.Contains(err.Error(), "address already in use")
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{t: t, URL: srv.URL(), DataDir: dir, cancel: cancel, done: make(chan error, 1)}
	if m := pwLine.FindStringSubmatch(out.String()); m != nil {
		e.Password = m[1]
	}
	go func() { e.done <- srv.Run(ctx) }()
	t.Cleanup(e.stop)
	return e
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	select {
	case err := <-e.done:
		if err != nil {
			brokerStacks(e.t, "shutdown")
			e.t.Errorf("broker: %v", err)
		}
	case <-time.After(15 * time.Second):
		brokerStacks(e.t, "shutdown")
		e.t.Error("broker did not shut down")
	}
}

// client is a logged-in API client (cookie session, no Origin header).
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func (e *env) login(t *testing.T, user, pw string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, base: e.URL, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	if st, body := c.do("POST", "/api/login", map[string]string{"username": user, "password": pw}, nil); st != 200 {
		t.Fatalf("login %s: %d %s", user, st, body)
	}
	return c
}

// do sends a JSON request and returns status and body; out, if set, receives the decoded body.
func (c *client) do(method, path string, body any, out any) (int, string) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: decode: %v (%s)", method, path, err, data)
		}
	}
	return res.StatusCode, string(data)
}

func (c *client) enrollToken(uses int, ttl time.Duration) string {
	c.t.Helper()
	var tok struct{ Token string }
	if st, body := c.do("POST", "/api/enroll-tokens", map[string]any{"max_uses": uses, "expires_in_seconds": int(ttl.Seconds())}, &tok); st != 201 {
		c.t.Fatalf("create token: %d %s", st, body)
	}
	return tok.Token
}

type deviceView struct {
	ID            string
	Hostname      string
	OS            string
	Online        bool
	Revoked       bool
	Displays      []wire.Display
	CaptureMethod string `json:"capture_method"`
}

func (c *client) device(id string) deviceView {
	c.t.Helper()
	var d deviceView
	if st, body := c.do("GET", "/api/devices/"+id, nil, &d); st != 200 {
		c.t.Fatalf("device %s: %d %s", id, st, body)
	}
	return d
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	waitForThen(t, what, d, cond, nil)
}

// waitForThen is waitFor that runs onTimeout (to log what the test waited
// on) before it fails.
func waitForThen(t *testing.T, what string, d time.Duration, cond func() bool, onTimeout func()) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			if onTimeout != nil {
				onTimeout()
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runningAgent is an enrolled agent running in this process.
type runningAgent struct {
	*agent.Agent
	StateDir string
	cancel   context.CancelFunc
	done     chan error
}

func enrollAgent(t *testing.T, e *env, token string, displays func() ([]wire.Display, error)) *runningAgent {
	t.Helper()
	state := filepath.Join(t.TempDir(), "agent")
	cfg := agent.Config{StateDir: state, Displays: displays, Logger: testLogger(t)}
	if _, err := agent.Enroll(context.Background(), cfg, e.URL, token, ""); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	return startAgent(t, cfg)
}

func startAgent(t *testing.T, cfg agent.Config) *runningAgent {
	t.Helper()
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{Agent: a, StateDir: cfg.StateDir, cancel: cancel, done: make(chan error, 1)}
	go func() { ra.done <- a.Run(ctx) }()
	t.Cleanup(func() { ra.Stop() })
	return ra
}

// Stop ends the agent and returns Run's error.
func (ra *runningAgent) Stop() error {
	ra.cancel()
	select {
	case err := <-ra.done:
		ra.done <- err
		return err
	case <-time.After(10 * time.Second):
		return fmt.Errorf("agent did not stop")
	}
}

func oneDisplay() ([]wire.Display, error) {
	return []wire.Display{{Index: 0, Width: 1280, Height: 720, Primary: true}}, nil
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func decodeBody(t *testing.T, res *http.Response, v any) {
	t.Helper()
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
