package e2e

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/internal/browsertest"
)

// wsClosed is how and when the broker closed a websocket.
type wsClosed struct {
	code   int
	reason string
	at     time.Time
}

// openEvents opens the live-events websocket with c's portal session (or,
// with token set, as that API token) and returns where its close arrives.
func openEvents(t *testing.T, e *env, c *client, token string) <-chan wsClosed {
	t.Helper()
	h := http.Header{"Origin": {e.URL}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	} else {
		ck := c.http.Jar.Cookies(mustURL(e.URL))[0]
		h.Set("Cookie", ck.Name+"="+ck.Value)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, res, err := d.Dial("ws"+strings.TrimPrefix(e.URL, "http")+"/api/events", h)
	if err != nil {
		t.Fatalf("events websocket: %v (%v)", err, res)
	}
	t.Cleanup(func() { ws.Close() })
	out := make(chan wsClosed, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				c := wsClosed{code: -1, at: time.Now()}
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					c.code, c.reason = ce.Code, ce.Text
				}
				out <- c
				return
			}
		}
	}()
	return out
}

// cliToken logs user in the way "porthole login" does and returns the token.
func cliToken(t *testing.T, e *env, user, pw string) string {
	t.Helper()
	var res struct{ Token string }
	if st, body := e.newClient(t).do("POST", "/api/cli/login", map[string]string{"username": user, "password": pw}, &res); st != 200 || res.Token == "" {
		t.Fatalf("cli login %s: %d %s", user, st, body)
	}
	return res.Token
}

// bearer calls the API with a token.
func bearer(t *testing.T, e *env, token, method, path string, body any, out any) (int, string) {
	t.Helper()
	c := &client{t: t, base: e.URL, http: &http.Client{Timeout: 30 * time.Second, Transport: tokenTransport(token)}}
	return c.do(method, path, body, out)
}

type tokenTransport string

func (tt tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(tt))
	return http.DefaultTransport.RoundTrip(r)
}

// lifecycleResult is the broker's answer to a user change.
type lifecycleResult struct {
	Status   string
	Password string
	User     struct {
		ID, Username, Role string
		Disabled           bool
		Groups             []string
	}
	Cascade struct {
		PortalSessions int      `json:"portal_sessions_ended"`
		Websockets     []string `json:"websockets_closed"`
		Tokens         []string `json:"tokens_revoked"`
		RemoteSessions []string `json:"remote_sessions_terminated"`
	}
}

// TestDisableUserKillSwitch: a technician has a live remote support session
// (real agent, real consent dialog, real Chromium viewer), an open
// live-events websocket and a CLI token. An admin disables them: the
// session, the websocket and the token all end within a second, the viewer
// and the endpoint say why, and one user.disabled record lists the cascade.
func TestDisableUserKillSwitch(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	ep := startEndpoint(t, e, admin)
	id, pw := newUser(t, admin, "tom", "technician")

	ctx := browsertest.New(t)
	browsertest.Step(ctx, t, 30*time.Second,
		loginSteps(e, "tom", pw),
		chromedp.WaitVisible(css(`button[data-support="`+ep.deviceID+`"]`)),
		chromedp.Click(css(`button[data-support="`+ep.deviceID+`"]`)),
		chromedp.WaitVisible(css(`#session-state`)),
	)
	consenttest.Press(t, ep.x.Display, consent.Allowed)
	waitViewerState(t, ctx, "live", 20*time.Second)
	consenttest.WaitWindow(t, ep.x.Display, consent.IndicatorTitle)
	sess := latestSession(t, admin, ep.deviceID)

	tom := e.login(t, "tom", pw)
	events := openEvents(t, e, tom, "")
	token := cliToken(t, e, "tom", pw)
	tokID := currentToken(t, e, token)

	start := time.Now()
	var res lifecycleResult
	if st, body := admin.do("POST", "/api/users/"+id+"/disable", nil, &res); st != 200 || !res.User.Disabled {
		t.Fatalf("disable: %d %s", st, body)
	}
	answered := time.Since(start)

	// The token is refused at once.
	if st, body := bearer(t, e, token, "GET", "/api/devices", nil, nil); st != 401 {
		t.Fatalf("token after disable: %d %s", st, body)
	}
	tokenDone := time.Since(start)
	// The events websocket is closed by the broker, saying why.
	var closed wsClosed
	select {
	case closed = <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("events websocket still open 5 s after the disable")
	}
	if closed.code != 4001 || !strings.Contains(closed.reason, "disabled by admin") {
		t.Fatalf("events websocket closed with %d %q", closed.code, closed.reason)
	}
	// The remote session ended on the broker, with the reason.
	var v struct {
		State     string
		EndReason string     `json:"end_reason"`
		EndedAt   *time.Time `json:"ended_at"`
	}
	if st, body := admin.do("GET", "/api/sessions/"+sess.ID, nil, &v); st != 200 || v.State != "ended" || v.EndedAt == nil {
		t.Fatalf("session after disable: %d %s", st, body)
	}
	sessionDone, wsDone := v.EndedAt.Sub(start), closed.at.Sub(start)
	t.Logf("disable answered in %v; token refused %v, events websocket closed %v, remote session ended %v after the request",
		answered, tokenDone, wsDone, sessionDone)
	for what, d := range map[string]time.Duration{"token": tokenDone, "events websocket": wsDone, "remote session": sessionDone} {
		if d > time.Second {
			t.Errorf("%s ended %v after the disable, want within 1 s", what, d)
		}
	}
	if !strings.Contains(v.EndReason, "tom's account was disabled by admin") {
		t.Fatalf("end reason %q", v.EndReason)
	}
	// The viewer shows it; the endpoint's indicator goes.
	waitViewerState(t, ctx, "ended", 10*time.Second)
	if r := viewerReason(t, ctx); !strings.Contains(r, "disabled by admin") {
		t.Fatalf("viewer reason %q", r)
	}
	consenttest.WaitGone(t, ep.x.Display, consent.IndicatorTitle)
	// Tom's portal sessions are gone too.
	if st, _ := tom.do("GET", "/api/me", nil, nil); st != 401 {
		t.Fatalf("portal session after disable: %d", st)
	}

	// One record, listing the cascade.
	recs := auditRecords(t, admin, "user.disabled")
	if len(recs) != 1 || recs[0].Actor != "user:admin" || recs[0].Target != id {
		t.Fatalf("user.disabled records: %+v", recs)
	}
	c, _ := recs[0].Details["cascade"].(map[string]any)
	ws := strs(c["websockets_closed"])
	if !slices.Equal(strs(c["remote_sessions_terminated"]), []string{sess.ID}) || !slices.Equal(strs(c["tokens_revoked"]), []string{tokID}) ||
		!slices.ContainsFunc(ws, func(s string) bool { return strings.HasPrefix(s, "events:") }) ||
		!slices.ContainsFunc(ws, func(s string) bool { return strings.HasPrefix(s, "signal:") }) || c["portal_sessions_ended"].(float64) < 2 {
		t.Fatalf("cascade in the audit record: %+v", c)
	}
	if !slices.Equal(res.Cascade.RemoteSessions, []string{sess.ID}) || !slices.Equal(res.Cascade.Tokens, []string{tokID}) {
		t.Fatalf("cascade in the answer: %+v", res.Cascade)
	}
	// Disabled users cannot log in; enabling lets them, and the old token stays dead.
	if st, _ := e.newClient(t).do("POST", "/api/login", map[string]string{"username": "tom", "password": pw}, nil); st != 401 {
		t.Fatalf("login while disabled: %d", st)
	}
	if st, body := admin.do("POST", "/api/users/"+id+"/enable", nil, &res); st != 200 || res.User.Disabled {
		t.Fatalf("enable: %d %s", st, body)
	}
	e.login(t, "tom", pw)
	if st, _ := bearer(t, e, token, "GET", "/api/devices", nil, nil); st != 401 {
		t.Fatalf("old token after enable: %d", st)
	}
}

// currentToken returns the id of the API token a request is made with.
func currentToken(t *testing.T, e *env, token string) string {
	t.Helper()
	var ts []struct {
		ID      string
		Current bool
	}
	if st, body := bearer(t, e, token, "GET", "/api/api-tokens", nil, &ts); st != 200 {
		t.Fatalf("tokens: %d %s", st, body)
	}
	for _, x := range ts {
		if x.Current {
			return x.ID
		}
	}
	t.Fatalf("no current token in %+v", ts)
	return ""
}

// strs reads a JSON list of strings from an audit record's details.
func strs(v any) []string {
	var out []string
	xs, _ := v.([]any)
	for _, x := range xs {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
