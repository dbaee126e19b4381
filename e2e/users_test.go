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
	"porthole/internal/clock/clocktest"
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

// waitClosed waits for a websocket's close from the broker.
func waitClosed(t *testing.T, what string, ch <-chan wsClosed) wsClosed {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(5 * time.Second):
		t.Fatalf("%s still open after 5 s", what)
	}
	return wsClosed{}
}

// stillOpen checks that the broker has not closed a websocket.
func stillOpen(t *testing.T, what string, ch <-chan wsClosed) {
	t.Helper()
	select {
	case c := <-ch:
		t.Fatalf("%s closed: %d %q", what, c.code, c.reason)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestUserLifecycle: logout closes that portal session's websockets only;
// a role change closes the user's events websocket (the page reconnects
// under the new role) and ends the session the new role does not cover;
// an MFA reset revokes the user's CLI tokens; a password reset gives a new
// password once and ends the old logins; no change leaves the broker
// without an enabled admin; a deleted user's name stays in the audit log
// and is not given to anyone else.
func TestUserLifecycle(t *testing.T) {
	clk := clocktest.New(time.Now())
	e := startBroker(t, clk)
	admin := e.login(t, "admin", e.Password)
	dev := quietAgent(t, e, admin)
	id, pw := newUser(t, admin, "tom", "technician")

	// Logout closes the websockets of that portal session, not the others.
	tomA, tomB := e.login(t, "tom", pw), e.login(t, "tom", pw)
	evA, evB := openEvents(t, e, tomA, ""), openEvents(t, e, tomB, "")
	if st, body := tomA.do("POST", "/api/logout", nil, nil); st != 200 {
		t.Fatalf("logout: %d %s", st, body)
	}
	if c := waitClosed(t, "the logged-out session's events websocket", evA); c.code != 4001 || c.reason != "logged out" {
		t.Fatalf("closed with %d %q", c.code, c.reason)
	}
	stillOpen(t, "the other session's events websocket", evB)

	// A role change: the session the new role does not cover ends, the
	// events websocket closes and reconnects under the new role.
	var s struct{ ID, State string }
	if st, body := tomB.do("POST", "/api/sessions", map[string]any{"device_id": dev}, &s); st != 201 {
		t.Fatalf("session: %d %s", st, body)
	}
	var res lifecycleResult
	if st, body := admin.do("PUT", "/api/users/"+id+"/role", map[string]any{"role": "auditor"}, &res); st != 200 || res.User.Role != "auditor" {
		t.Fatalf("role: %d %s", st, body)
	}
	if !slices.Equal(res.Cascade.RemoteSessions, []string{s.ID}) || len(res.Cascade.Websockets) != 1 || len(res.Cascade.Tokens) != 0 {
		t.Fatalf("role change cascade: %+v", res.Cascade)
	}
	if c := waitClosed(t, "the events websocket", evB); c.code != 4001 || !strings.Contains(c.reason, "role was changed") {
		t.Fatalf("closed with %d %q", c.code, c.reason)
	}
	var v struct {
		State     string
		EndReason string `json:"end_reason"`
	}
	if admin.do("GET", "/api/sessions/"+s.ID, nil, &v); v.State != "ended" || !strings.Contains(v.EndReason, "role was changed by admin") {
		t.Fatalf("session after the role change: %+v", v)
	}
	var me struct{ Role string }
	if st, _ := tomB.do("GET", "/api/me", nil, &me); st != 200 || me.Role != "auditor" {
		t.Fatalf("portal session after the role change: %d %+v", st, me)
	}
	openEvents(t, e, tomB, "") // the page reconnects
	if st, _ := tomB.do("POST", "/api/sessions", map[string]any{"device_id": dev}, nil); st != 403 {
		t.Fatalf("auditor started a session: %d", st)
	}
	rec := auditRecords(t, admin, "user.role_changed")
	if len(rec) != 1 || rec[0].Details["old_role"] != "technician" || rec[0].Details["role"] != "auditor" {
		t.Fatalf("user.role_changed: %+v", rec)
	}
	admin.do("PUT", "/api/users/"+id+"/role", map[string]any{"role": "technician"}, nil)

	// An MFA reset revokes the 30-day CLI token too.
	secret, _ := enrollAPI(t, tomB, clk)
	clk.Advance(30 * time.Second)
	var ticket struct{ Ticket string }
	if st, body := e.newClient(t).do("POST", "/api/cli/login", map[string]string{"username": "tom", "password": pw}, &ticket); st != 200 || ticket.Ticket == "" {
		t.Fatalf("cli login: %d %s", st, body)
	}
	var tok struct{ Token string }
	if st, body := e.newClient(t).do("POST", "/api/cli/login/mfa", map[string]string{"ticket": ticket.Ticket, "code": totpAt(t, secret, clk.Now())}, &tok); st != 200 {
		t.Fatalf("cli login code: %d %s", st, body)
	}
	if st, _ := bearer(t, e, tok.Token, "GET", "/api/devices", nil, nil); st != 200 {
		t.Fatalf("cli token: %d", st)
	}
	if st, body := admin.do("POST", "/api/users/"+id+"/mfa/reset", nil, &res); st != 200 || len(res.Cascade.Tokens) != 1 {
		t.Fatalf("mfa reset: %d %s", st, body)
	}
	if st, _ := bearer(t, e, tok.Token, "GET", "/api/devices", nil, nil); st != 401 {
		t.Fatalf("cli token after the MFA reset: %d", st)
	}

	// A password reset: the new password is shown once, the old one is dead.
	tomC := e.login(t, "tom", pw)
	if st, body := admin.do("POST", "/api/users/"+id+"/password/reset", nil, &res); st != 200 || res.Password == "" || res.Cascade.PortalSessions != 1 {
		t.Fatalf("password reset: %d %s", st, body)
	}
	if st, _ := tomC.do("GET", "/api/me", nil, nil); st != 401 {
		t.Fatalf("session after the password reset: %d", st)
	}
	if st, _ := e.newClient(t).do("POST", "/api/login", map[string]string{"username": "tom", "password": pw}, nil); st != 401 {
		t.Fatalf("old password: %d", st)
	}
	pw = res.Password
	e.login(t, "tom", pw)

	// Guard rails: the only enabled admin cannot lock themselves out.
	var admins []struct{ ID, Username string }
	admin.do("GET", "/api/users", nil, &admins)
	adminID := ""
	for _, u := range admins {
		if u.Username == "admin" {
			adminID = u.ID
		}
	}
	for _, c := range []struct{ method, path string }{{"POST", "/disable"}, {"DELETE", ""}, {"PUT", "/role"}} {
		if st, body := admin.do(c.method, "/api/users/"+adminID+c.path, map[string]any{"role": "auditor"}, nil); st != 409 ||
			!strings.Contains(body, "no enabled admin") {
			t.Fatalf("%s %s on the last admin: %d %s", c.method, c.path, st, body)
		}
	}
	if st, _ := admin.do("GET", "/api/me", nil, nil); st != 200 {
		t.Fatalf("the admin was locked out: %d", st)
	}
	for _, action := range []string{"user.disabled", "user.deleted"} {
		if recs := auditRecords(t, admin, action); len(recs) != 0 {
			t.Fatalf("a refused change was audited: %+v", recs)
		}
	}

	// Delete: a tombstone keeps the name; the audit log still reads.
	if st, body := admin.do("DELETE", "/api/users/"+id, nil, &res); st != 200 {
		t.Fatalf("delete: %d %s", st, body)
	}
	var live, all []struct {
		Username  string
		DeletedAt *time.Time `json:"deleted_at"`
	}
	admin.do("GET", "/api/users", nil, &live)
	admin.do("GET", "/api/users?deleted=true", nil, &all)
	if slices.ContainsFunc(live, func(u struct {
		Username  string
		DeletedAt *time.Time `json:"deleted_at"`
	}) bool {
		return u.Username == "tom"
	}) || len(all) != len(live)+1 {
		t.Fatalf("users after delete: live %+v, all %+v", live, all)
	}
	if st, _ := e.newClient(t).do("POST", "/api/login", map[string]string{"username": "tom", "password": pw}, nil); st != 401 {
		t.Fatalf("deleted user logged in: %d", st)
	}
	if st, body := admin.do("POST", "/api/users", map[string]string{"username": "tom", "role": "auditor"}, nil); st != 409 || !strings.Contains(body, "deleted user") {
		t.Fatalf("reusing a deleted user's name: %d %s", st, body)
	}
	if st, _ := admin.do("POST", "/api/users/"+id+"/enable", nil, nil); st != 404 {
		t.Fatalf("enable a deleted user: %d", st)
	}
	logouts := auditRecords(t, admin, "logout")
	if len(logouts) == 0 || logouts[len(logouts)-1].Actor != "user:tom" {
		t.Fatalf("tom's old records: %+v", logouts)
	}
	if recs := auditRecords(t, admin, "user.deleted"); len(recs) != 1 || recs[0].Details["username"] != "tom" || recs[0].Target != id {
		t.Fatalf("user.deleted: %+v", recs)
	}
}
