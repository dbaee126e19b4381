package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestCrossOriginRefused(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"same origin", map[string]string{"Origin": e.URL, "Sec-Fetch-Site": "same-origin"}, 201},
		{"no browser headers (CLI)", nil, 201},
		{"cross-site fetch", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{"cross origin without fetch metadata", map[string]string{"Origin": "http://evil.example"}, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.URL+"/api/enroll-tokens", strings.NewReader(`{"max_uses":1,"expires_in_seconds":3600}`))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			res, err := admin.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
}

func TestWebsocketOrigin(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	wsURL := "ws" + strings.TrimPrefix(e.URL, "http")
	cookie := admin.http.Jar.Cookies(mustURL(e.URL))[0]
	tests := []struct {
		name, path, origin string
		ok                 bool
	}{
		{"events same origin", "/api/events", e.URL, true},
		{"events foreign origin", "/api/events", "http://evil.example", false},
		{"events no origin", "/api/events", "", false},
		{"agent link from a browser page", "/api/agent/ws", e.URL, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			ws, res, err := d.Dial(wsURL+tc.path, h)
			if ws != nil {
				ws.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("dial err=%v res=%v, want ok=%v", err, res, tc.ok)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := startBroker(t, nil)
	for _, path := range []string{"/", "/api/me", "/healthz"} {
		res, err := http.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: missing nosniff/referrer headers", path)
		}
	}
}

// TestRoutesByRole walks every API route with every role (and nobody):
// deny by default, allow exactly what the role grants.
func TestRoutesByRole(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	users := map[string]*client{"admin": admin}
	for _, role := range []string{"technician", "auditor"} {
		var u struct{ Password string }
		if st, body := admin.do("POST", "/api/users", map[string]string{"username": role + "1", "role": role}, &u); st != 201 {
			t.Fatalf("create %s: %d %s", role, st, body)
		}
		users[role] = e.login(t, role+"1", u.Password)
	}
	users["anonymous"] = &client{t: t, base: e.URL, http: &http.Client{Timeout: 10 * time.Second}}

	type route struct{ method, path string }
	routes := []struct {
		route
		body  any
		allow []string
	}{
		{route{"GET", "/api/me"}, nil, []string{"admin", "technician", "auditor"}},
		{route{"GET", "/api/devices"}, nil, []string{"admin", "technician", "auditor"}},
		{route{"GET", "/api/devices/none"}, nil, []string{"admin", "technician", "auditor"}},
		{route{"POST", "/api/devices/none/revoke"}, nil, []string{"admin"}},
		{route{"GET", "/api/enroll-tokens"}, nil, []string{"admin"}},
		{route{"POST", "/api/enroll-tokens"}, map[string]any{"max_uses": 1, "expires_in_seconds": 3600}, []string{"admin"}},
		{route{"POST", "/api/enroll-tokens/none/revoke"}, nil, []string{"admin"}},
		{route{"GET", "/api/users"}, nil, []string{"admin"}},
		{route{"POST", "/api/users"}, map[string]any{"username": "x" + "y", "role": "auditor"}, []string{"admin"}},
		{route{"GET", "/api/audit"}, nil, []string{"admin", "auditor"}},
	}
	for _, r := range routes {
		for _, who := range []string{"anonymous", "auditor", "technician", "admin"} {
			t.Run(r.method+" "+r.path+" as "+who, func(t *testing.T) {
				st, body := users[who].do(r.method, r.path, r.body, nil)
				allowed := false
				for _, a := range r.allow {
					allowed = allowed || a == who
				}
				switch {
				case who == "anonymous" && st != 401:
					t.Fatalf("anonymous got %d %s", st, body)
				case who != "anonymous" && !allowed && st != 403:
					t.Fatalf("%s got %d %s, want 403", who, st, body)
				case allowed && (st == 401 || st == 403):
					t.Fatalf("%s refused: %d %s", who, st, body)
				}
			})
		}
	}
}
