package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"porthole/agent"
	"porthole/agent/link"
	"porthole/internal/clock/clocktest"
	"porthole/internal/wire"
)

func TestEnrollConnectInventoryOffline(t *testing.T) {
	e := startBroker(t, nil)
	if e.Password == "" {
		t.Fatal("first run printed no admin password")
	}
	res, err := http.Get(e.URL + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
	admin := e.login(t, "admin", e.Password)
	a := enrollAgent(t, e, admin.enrollToken(1, time.Hour), oneDisplay)
	waitFor(t, "agent online", 10*time.Second, func() bool { return admin.device(a.DeviceID()).Online })
	d := admin.device(a.DeviceID())
	if d.Hostname == "" || len(d.Displays) != 1 || d.Displays[0].Width != 1280 {
		t.Fatalf("inventory not stored: %+v", d)
	}
	if err := a.Stop(); err != nil {
		t.Fatalf("agent Run: %v", err)
	}
	waitFor(t, "agent offline", 5*time.Second, func() bool { return !admin.device(a.DeviceID()).Online })

	// The audit chain recorded it all and verifies.
	var recs []struct{ Action string }
	admin.do("GET", "/api/audit?order=asc", nil, &recs)
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
	}
	for _, want := range []string{"user.created", "login.ok", "enroll_token.created", "device.enrolled"} {
		if !strings.Contains(strings.Join(actions, ","), want) {
			t.Errorf("audit log lacks %s: %v", want, actions)
		}
	}
}

func TestEnrollmentTokens(t *testing.T) {
	clk := clocktest.New(time.Now())
	e := startBroker(t, clk)
	admin := e.login(t, "admin", e.Password)
	single := admin.enrollToken(1, 3*time.Hour)
	expiring := admin.enrollToken(5, time.Hour)
	multi := admin.enrollToken(2, 3*time.Hour)

	enroll := func(token string) error {
		cfg := agent.Config{StateDir: t.TempDir(), Displays: oneDisplay}
		_, err := agent.Enroll(context.Background(), cfg, e.URL, token, "")
		return err
	}
	if err := enroll(single); err != nil {
		t.Fatalf("first use: %v", err)
	}
	clk.Advance(2 * time.Hour)
	admin = e.login(t, "admin", e.Password) // the old session idled out
	tests := []struct {
		name, token, want string
	}{
		{"wrong token", "phe_not-a-token", "enrollment token not recognised"},
		{"used-up single-use token", single, "no uses left"},
		{"expired token", expiring, "expired"},
		{"multi-use token first", multi, ""},
		{"multi-use token second", multi, ""},
		{"multi-use token third", multi, "no uses left"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := enroll(tc.token)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
	// A revoked token is refused too.
	var toks []struct{ ID, Note string }
	admin.do("GET", "/api/enroll-tokens", nil, &toks)
	revokeMe := admin.enrollToken(3, time.Hour)
	admin.do("GET", "/api/enroll-tokens", nil, &toks)
	if st, body := admin.do("POST", "/api/enroll-tokens/"+toks[0].ID+"/revoke", nil, nil); st != 200 {
		t.Fatalf("revoke: %d %s", st, body)
	}
	if err := enroll(revokeMe); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked token: %v", err)
	}
}

// dialRaw opens an agent websocket by hand, bypassing the real agent.
func dialRaw(t *testing.T, e *env) (*websocket.Conn, []byte) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.URL, "http")+"/api/agent/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return ws, m.(*wire.Challenge).Nonce
}

func readError(t *testing.T, ws *websocket.Conn) *wire.Error {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("expected an error frame, got %v", err)
		}
		m, err := wire.Decode(data)
		if err != nil {
			t.Fatalf("broker sent undecodable frame: %v", err)
		}
		if e, ok := m.(*wire.Error); ok {
			return e
		}
	}
}

func send(t *testing.T, ws *websocket.Conn, m wire.Message) {
	t.Helper()
	b, err := wire.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
}

func TestAgentLinkBadInput(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	good := enrollAgent(t, e, admin.enrollToken(1, time.Hour), oneDisplay)
	waitFor(t, "agent online", 10*time.Second, func() bool { return admin.device(good.DeviceID()).Online })
	inv := wire.Inventory{Hostname: "mallory"}

	t.Run("forged signature", func(t *testing.T) {
		ws, nonce := dialRaw(t, e)
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		send(t, ws, &wire.Hello{DeviceID: good.DeviceID(), Signature: ed25519.Sign(other, wire.SignedPayload(nonce, good.DeviceID())), AgentVersion: "x", Inventory: inv})
		if got := readError(t, ws); got.Code != wire.CodeAuthFailed {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("unknown device", func(t *testing.T) {
		ws, nonce := dialRaw(t, e)
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		send(t, ws, &wire.Hello{DeviceID: "nope", Signature: ed25519.Sign(k, wire.SignedPayload(nonce, "nope")), AgentVersion: "x", Inventory: inv})
		if got := readError(t, ws); got.Code != wire.CodeAuthFailed {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("malformed frame", func(t *testing.T) {
		ws, _ := dialRaw(t, e)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"v":1,"type":"hello","body":{"device_id":7}`)); err != nil {
			t.Fatal(err)
		}
		if got := readError(t, ws); got.Code != wire.CodeBadRequest || !strings.Contains(got.Message, "malformed") {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("second agent with the same key", func(t *testing.T) {
		// Copy the good agent's identity and start a second agent with it.
		second, err := agent.New(agent.Config{StateDir: good.StateDir})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err = second.Run(ctx) // retries with backoff until ctx ends
		if err != nil {
			t.Fatalf("second agent: %v", err)
		}
		// The raw protocol shows the error the second agent got.
		ws, nonce := dialRaw(t, e)
		id := mustLoadKey(t, good.StateDir)
		send(t, ws, &wire.Hello{DeviceID: good.DeviceID(), Signature: ed25519.Sign(id, wire.SignedPayload(nonce, good.DeviceID())), AgentVersion: "x", Inventory: inv})
		if got := readError(t, ws); got.Code != wire.CodeAlreadyConnected {
			t.Fatalf("got %+v", got)
		}
	})
	// Through all of that, the good agent stayed online and the broker serves.
	if !admin.device(good.DeviceID()).Online {
		t.Fatal("good agent was knocked offline")
	}
	t.Run("revoked device", func(t *testing.T) {
		if st, body := admin.do("POST", "/api/devices/"+good.DeviceID()+"/revoke", nil, nil); st != 200 {
			t.Fatalf("revoke: %d %s", st, body)
		}
		select {
		case err := <-good.done:
			good.done <- err
			if !errors.Is(err, link.ErrRevoked) {
				t.Fatalf("agent ended with %v, want ErrRevoked", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("revoked agent kept running")
		}
	})
}
