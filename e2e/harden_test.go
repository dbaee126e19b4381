package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"porthole/agent"
	"porthole/agent/identity"
	"porthole/broker"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// TestHSTSUnderTLS: a broker serving TLS tells browsers to keep to it
// (Strict-Transport-Security); on plain HTTP (loopback) it does not.
func TestHSTSUnderTLS(t *testing.T) {
	tlsEnv := startBrokerWith(t, t.TempDir(), nil, func(c *broker.Config) { c.TLS = broker.TLSSelfSigned })
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, path := range []string{"/", "/api/me", "/healthz"} {
		res, err := client.Get(tlsEnv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if h := res.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=31536000") {
			t.Errorf("%s under TLS: Strict-Transport-Security %q", path, h)
		}
	}
	plain := startBroker(t, nil)
	res, err := http.Get(plain.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if h := res.Header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("plain HTTP sends Strict-Transport-Security %q", h)
	}
}

// TestNonJSONBodiesRefused: a body the JSON API cannot read is 415 before
// any handler runs (a form post to the login, a text/plain token request),
// bodiless posts still work, and a cross-site form is refused as before.
func TestNonJSONBodiesRefused(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	post := func(path, ctype, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", e.URL+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := admin.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b struct{ Error string }
		_ = json.NewDecoder(res.Body).Decode(&b)
		return res.StatusCode, b.Error
	}
	tok := `{"max_uses":1,"expires_in_seconds":3600}`
	for _, tc := range []struct {
		path, ctype, body string
		want              int
	}{
		{"/api/enroll-tokens", "text/plain", tok, 415},
		{"/api/enroll-tokens", "", tok, 415},
		{"/api/enroll-tokens", "application/x-www-form-urlencoded", "max_uses=1", 415},
		{"/api/login", "application/x-www-form-urlencoded", "username=admin&password=x", 415},
		{"/api/agent/enroll", "text/plain", `{"token":"x"}`, 415},
		{"/api/enroll-tokens", "application/json", tok, 201},
		{"/api/enroll-tokens", "application/json; charset=utf-8", tok, 201},
	} {
		if st, msg := post(tc.path, tc.ctype, tc.body); st != tc.want || (st == 415 && !strings.Contains(msg, "must be JSON")) {
			t.Errorf("POST %s as %q: %d %q, want %d", tc.path, tc.ctype, st, msg, tc.want)
		}
	}
	// No body, no Content-Type: a revoke is not refused for want of one.
	var toks []struct{ ID string }
	admin.do("GET", "/api/enroll-tokens", nil, &toks)
	if st, msg := post("/api/enroll-tokens/"+toks[0].ID+"/revoke", "", ""); st != 200 {
		t.Fatalf("bodiless revoke: %d %s", st, msg)
	}
}

// TestRevokeUnknownEnrollTokenIs404: revoking a token that does not exist
// is 404 and leaves no audit record.
func TestRevokeUnknownEnrollTokenIs404(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	if st, body := admin.do("POST", "/api/enroll-tokens/nosuchtoken/revoke", nil, nil); st != 404 {
		t.Fatalf("revoke unknown token: %d %s", st, body)
	}
	if log := auditActions(t, admin, "nosuchtoken"); strings.Contains(log, "enroll_token.revoked") {
		t.Fatalf("an unknown token's revocation was audited:\n%s", log)
	}
}

// TestScopesAndGlobalOnlySettings: global-only settings are refused at a
// group or device scope, and a scope that names no well-formed id is
// refused, each with a clear 400, nothing stored and nothing audited.
func TestScopesAndGlobalOnlySettings(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	var g struct{ ID string }
	if st, body := admin.do("POST", "/api/groups", map[string]string{"name": "lab"}, &g); st != 201 {
		t.Fatalf("group: %d %s", st, body)
	}
	for _, tc := range []struct{ key, scope, value, want string }{
		{"mfa.require_portal", "group:" + g.ID, "true", "global scope only"},
		{"recording.retention_days", "group:" + g.ID, "7", "global scope only"},
		{"mfa.require_portal", "device:abc", "true", "global scope only"},
		{"remote_support.allow", "device:../../x", "false", "want global, group:ID or device:ID"},
		{"remote_support.allow", "group:../" + g.ID, "false", "want global, group:ID or device:ID"},
	} {
		st, body := admin.do("PUT", "/api/settings/"+tc.key, map[string]string{"scope": tc.scope, "value": tc.value}, nil)
		if st != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("PUT %s at %s: %d %s, want 400 saying %q", tc.key, tc.scope, st, body, tc.want)
		}
	}
	if st, body := admin.do("GET", "/api/settings?scope=device:..%2F..%2Fx", nil, nil); st != 400 {
		t.Errorf("GET settings at a malformed scope: %d %s", st, body)
	}
	if log := auditActions(t, admin, ""); strings.Contains(log, "setting.changed") {
		t.Fatalf("a refused setting was audited:\n%s", log)
	}
	var keys []struct {
		Key        string
		GlobalOnly bool `json:"global_only"`
	}
	admin.do("GET", "/api/settings/keys", nil, &keys)
	for _, k := range keys {
		globalOnly := map[string]bool{"mfa.require_portal": true, "recording.retention_days": true,
			"access.standing": true, "api_tokens.max_days": true, "cli.token_hours": true}
		if want := globalOnly[k.Key] || strings.HasPrefix(k.Key, "notify.") || strings.HasPrefix(k.Key, "auth."); k.GlobalOnly != want {
			t.Errorf("key %s: global_only %v", k.Key, k.GlobalOnly)
		}
	}
}

// TestTrustedProxies: X-Forwarded-For names the client only when the peer
// is a trusted proxy, and then the right-most address that is not a proxy;
// otherwise the peer's address is what the audit log records.
func TestTrustedProxies(t *testing.T) {
	failedFrom := func(t *testing.T, e *env, xff string) string {
		t.Helper()
		req, _ := http.NewRequest("POST", e.URL+"/api/agent/enroll", strings.NewReader(
			`{"token":"phe_nope","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","inventory":{"hostname":"h","os":"","arch":"","user":"","displays":[]}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 403 {
			t.Fatalf("bad enrollment: %d", res.StatusCode)
		}
		admin := e.login(t, "admin", e.Password)
		var recs []struct {
			SourceIP string `json:"source_ip"`
		}
		waitFor(t, "enroll_failed record", 10*time.Second, func() bool {
			admin.do("GET", "/api/audit?action=device.enroll_failed&limit=1", nil, &recs)
			return len(recs) == 1
		})
		return recs[0].SourceIP
	}
	t.Run("untrusted peer", func(t *testing.T) {
		e := startBroker(t, nil)
		if ip := failedFrom(t, e, "203.0.113.7"); ip != "127.0.0.1" {
			t.Fatalf("source ip %q, want the peer's", ip)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		e := startBrokerWith(t, t.TempDir(), nil, func(c *broker.Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
		})
		// The client wrote the first hop; the proxies appended the rest.
		if ip := failedFrom(t, e, "198.51.100.1, 203.0.113.7, 10.1.2.3"); ip != "203.0.113.7" {
			t.Fatalf("source ip %q, want the right-most untrusted hop", ip)
		}
	})
}

// TestUnauthenticatedFailuresCoalesced: a burst of bad enrollments and of
// failed agent authentications from one address writes one record of each
// at once, and the rest summed in one record per window (written at the
// latest at shutdown), instead of one record per attempt.
func TestUnauthenticatedFailuresCoalesced(t *testing.T) {
	dir := t.TempDir()
	e := startBrokerWith(t, dir, nil, func(c *broker.Config) { c.FailureWindow = time.Hour })
	const n = 30
	bad := `{"token":"phe_nope","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","inventory":{"hostname":"h","os":"","arch":"","user":"","displays":[]}}`
	// The address's enrollment limiter lets the first guesses through (403,
	// each one audited) and answers the rest 429 before any check, which
	// writes nothing; the audited ones are what the coalescer sums.
	refused := 0
	for range n {
		res, err := http.Post(e.URL+"/api/agent/enroll", "application/json", strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		switch res.StatusCode {
		case 403:
			refused++
		case 429:
		default:
			t.Fatalf("bad enrollment: %d", res.StatusCode)
		}
	}
	if refused < 3 {
		t.Fatalf("only %d bad enrollments were checked; the test needs a burst", refused)
	}
	want := map[string]int{"device.enroll_failed": refused, "agent.auth_failed": n}
	_, k, _ := ed25519.GenerateKey(nil)
	for range n {
		ws, nonce := dialRaw(t, e)
		send(t, ws, &wire.Hello{DeviceID: "nope", Signature: ed25519.Sign(k, wire.SignedPayload(nonce, "nope")), AgentVersion: "x",
			Inventory: wire.Inventory{Hostname: "m"}})
		if got := readError(t, ws); got.Code != wire.CodeAuthFailed {
			t.Fatalf("got %+v", got)
		}
		ws.Close()
	}
	e.stop()
	st, err := store.Open(context.Background(), filepath.Join(dir, "porthole.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, action := range []string{"device.enroll_failed", "agent.auth_failed"} {
		recs, err := st.AuditRecords(context.Background(), store.AuditFilter{Action: action, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, r := range recs {
			var d struct{ Count int }
			_ = json.Unmarshal([]byte(r.Details), &d)
			total += d.Count
		}
		if len(recs) != 2 || total != want[action] {
			t.Errorf("%s: %d records counting %d attempts, want 2 records counting %d", action, len(recs), total, want[action])
		}
	}
}

// TestRequestEventsOnlyToThoseWhoMaySee: the live events websocket tells
// an admin of a new support request and of an access request, and tells an
// auditor of neither (an auditor may not see the requests queue, and is
// neither requester nor approver of the access request).
func TestRequestEventsOnlyToThoseWhoMaySee(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	_, apw := newUser(t, admin, "audrey", "auditor")
	auditor := e.login(t, "audrey", apw)
	listen := func(c *client) *websocket.Conn {
		t.Helper()
		h := http.Header{"Origin": {e.URL}}
		for _, ck := range c.http.Jar.Cookies(mustURL(e.URL)) {
			h.Add("Cookie", ck.Name+"="+ck.Value)
		}
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.URL, "http")+"/api/events", h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		return ws
	}
	adminWS, auditorWS := listen(admin), listen(auditor)

	// A support request from an enrolled device, over a raw agent link.
	state := filepath.Join(t.TempDir(), "agent")
	if _, err := agent.Enroll(context.Background(), agent.Config{StateDir: state, Displays: oneDisplay}, e.URL, admin.enrollToken(1, time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	ws, nonce := dialRaw(t, e)
	key := mustLoadKey(t, state)
	id := deviceIDOf(t, state)
	send(t, ws, &wire.Hello{DeviceID: id, Signature: ed25519.Sign(key, wire.SignedPayload(nonce, id)), AgentVersion: "x",
		Inventory: wire.Inventory{Hostname: "pc1"}})
	send(t, ws, &wire.SupportRequest{RequestID: "r1", Name: "Ann", Email: "ann@example.com", Reason: "printer"})
	// An access request by a technician, approved by admins.
	var g struct{ ID string }
	admin.do("POST", "/api/groups", map[string]string{"name": "lab"}, &g)
	pol := map[string]any{"approvers": []string{"role:admin"}, "approvals": 1, "max_duration_seconds": 3600}
	if st, body := admin.do("PUT", "/api/access/entitlements", map[string]any{"name": "break_glass", "group_id": g.ID, "request": pol}, nil); st != 200 {
		t.Fatalf("entitlement: %d %s", st, body)
	}
	_, tpw := newUser(t, admin, "tess", "technician")
	if st, body := e.login(t, "tess", tpw).do("POST", "/api/access/requests", map[string]any{"entitlement": "break_glass",
		"group": g.ID, "duration_seconds": 600, "justification": "INC-1"}, nil); st != 201 {
		t.Fatalf("access request: %d %s", st, body)
	}
	// kinds reads request events until stop holds for an event.
	kinds := func(ws *websocket.Conn, stop func(typ string, online bool, n int) bool) []string {
		t.Helper()
		var out []string
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			var ev struct {
				Type string
				Data struct {
					Kind   string
					Online bool
				}
			}
			if err := ws.ReadJSON(&ev); err != nil {
				t.Fatalf("events: %v (heard %v)", err, out)
			}
			if ev.Type == "request" {
				out = append(out, ev.Data.Kind)
			}
			if stop(ev.Type, ev.Data.Online, len(out)) {
				return out
			}
		}
	}
	got := kinds(adminWS, func(_ string, _ bool, n int) bool { return n == 2 })
	if slices.Sort(got); strings.Join(got, ",") != "access,support" {
		t.Fatalf("admin heard %v, want access and support", got)
	}
	// Both events went out before the device goes offline; the auditor's
	// page hears the device go, and no request.
	ws.Close()
	if got := kinds(auditorWS, func(typ string, online bool, _ int) bool { return typ == "device" && !online }); len(got) != 0 {
		t.Fatalf("auditor heard request events %v", got)
	}
}

// deviceIDOf reads the device id an enrollment saved in dir.
func deviceIDOf(t *testing.T, dir string) string {
	t.Helper()
	id, err := identity.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return id.DeviceID
}
