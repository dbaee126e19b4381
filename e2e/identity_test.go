package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/agent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/support"
	"porthole/broker"
	"porthole/broker/notify/smtptest"
	"porthole/broker/sso"
	"porthole/internal/browsertest"
	"porthole/internal/clock"
	"porthole/internal/clock/clocktest"
	"porthole/internal/oidctest"
)

// idpRig is a broker at http://localhost:PORT (a secure context whose host
// is a domain: WebAuthn refuses IP addresses as relying party ids) that
// trusts a real OpenID Provider running in the test.
type idpRig struct {
	*env
	op    *oidctest.Server
	admin *client
}

func startIdPRig(t *testing.T) *idpRig {
	t.Helper()
	return startIdPRigClock(t, nil)
}

func startIdPRigClock(t *testing.T, clk clock.Clock) *idpRig {
	t.Helper()
	port := smtptest.FreePort(t) // the URL must be known before the broker starts: the OP registers its callback
	public := "http://localhost:" + strconv.Itoa(port)
	op := oidctest.Start(t, oidctest.Client{ID: "porthole", Secret: "op-secret", RedirectURIs: []string{sso.CallbackURL(public)}})
	t.Setenv("PORTHOLE_TEST_OIDC_SECRET", "op-secret")
	e := startBrokerWith(t, t.TempDir(), clk, func(c *broker.Config) {
		c.Listen, c.PublicURL = "127.0.0.1:"+strconv.Itoa(port), public
		c.OIDC = []sso.ProviderConfig{{ID: "test", Name: "Test IdP", Issuer: op.Issuer, ClientID: "porthole",
			ClientSecretEnv: "PORTHOLE_TEST_OIDC_SECRET", UsernameClaim: "preferred_username", GroupsClaim: "groups",
			Scopes:               []string{"openid", "profile"},
			Groups:               []sso.GroupMapping{{Group: "porthole-admins", Role: "admin"}, {Group: "helpdesk", Role: "technician"}},
			PhishingResistantAMR: []string{"hwk"}}}
	})
	e.URL = public
	return &idpRig{env: e, op: op, admin: e.login(t, "admin", e.Password)}
}

// TestSSOSignInBrowser: Chromium signs in through a real OP (its login
// page filled in here): a user in porthole-admins lands as admin, one in
// helpdesk as technician, one in neither is refused with the reason;
// moving a user between groups changes the role at the next sign-in, and
// each sign-in, refusal and role change is audited.
func TestSSOSignInBrowser(t *testing.T) {
	r := startIdPRig(t)
	r.op.AddUser(oidctest.User{Subject: "s-alice", Username: "Alice", Password: "pa", Groups: []string{"porthole-admins", "staff"}})
	r.op.AddUser(oidctest.User{Subject: "s-bob", Username: "bob", Password: "pb", Groups: []string{"helpdesk"}})
	r.op.AddUser(oidctest.User{Subject: "s-carol", Username: "carol", Password: "pc", Groups: []string{"staff"}})
	ctx := browsertest.New(t)
	signIn := func(user, pw string) {
		t.Helper()
		browsertest.Step(ctx, t, 20*time.Second,
			chromedp.Navigate(r.URL+"/#/login"),
			chromedp.WaitVisible(css(`#sso-test`)),
			chromedp.Click(css(`#sso-test`)),
			chromedp.WaitVisible(css(`#op-username`)),
			chromedp.SendKeys(css(`#op-username`), user),
			chromedp.SendKeys(css(`#op-password`), pw),
			chromedp.Click(css(`#op-submit`)),
		)
	}
	landsAs := func(want string) {
		t.Helper()
		browsertest.Step(ctx, t, 20*time.Second, chromedp.WaitVisible(css(`#topbar`)),
			chromedp.Poll[chromedp.Void](`document.getElementById('whoami').textContent === `+strconv.Quote(want)))
	}
	logout := func() {
		t.Helper()
		browsertest.Step(ctx, t, 20*time.Second, chromedp.Click(css(`#logout`)), chromedp.WaitVisible(css(`#username`)))
	}
	signIn("Alice", "pa")
	landsAs("alice (admin)")
	logout()
	signIn("bob", "pb")
	landsAs("bob (technician)")
	logout()
	signIn("carol", "pc")
	browsertest.Step(ctx, t, 20*time.Second, chromedp.WaitVisible(css(`#login-error:not(:empty)`)))
	if msg := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#login-error`))); !strings.Contains(msg, "none of the groups") {
		t.Fatalf("refusal shown: %q", msg)
	}
	// bob moves to porthole-admins at the IdP: admin at his next sign-in.
	r.op.SetGroups("bob", "porthole-admins")
	signIn("bob", "pb")
	landsAs("bob (admin)")

	bySSO := 0
	for _, rec := range auditRecords(t, r.admin, "user.created") {
		if rec.Actor == "sso:test" && rec.Details["via"] == "sso" {
			bySSO++
		}
	}
	if bySSO != 2 {
		t.Fatalf("%d users created just in time, want 2 (alice, bob)", bySSO)
	}
	changed := auditRecords(t, r.admin, "user.role_changed")
	if len(changed) != 1 || changed[0].Actor != "sso:test" || changed[0].Details["old_role"] != "technician" || changed[0].Details["role"] != "admin" {
		t.Fatalf("user.role_changed: %+v", changed)
	}
	refused := auditRecords(t, r.admin, "login.refused")
	if len(refused) != 1 || refused[0].Details["reason"] != "no_mapped_group" || refused[0].Details["subject"] != "s-carol" {
		t.Fatalf("login.refused: %+v", refused)
	}
	oks := 0
	for _, rec := range auditRecords(t, r.admin, "login.ok") {
		if rec.Details["via"] == "sso" {
			oks++
		}
	}
	if oks != 3 {
		t.Fatalf("%d SSO login.ok records, want 3", oks)
	}
	// A local password login for an SSO-only account is refused like a wrong password.
	c := r.newClient(t)
	if st, _ := c.do("POST", "/api/login", map[string]string{"username": "bob", "password": ""}, nil); st != 400 && st != 401 {
		t.Fatalf("password login of an SSO account: %d", st)
	}
}

// TestSSOCallbackDirect drives the callback by hand against the real OP:
// a state is good for one callback, only in the browser that started it.
func TestSSOCallbackDirect(t *testing.T) {
	r := startIdPRig(t)
	r.op.AddUser(oidctest.User{Subject: "s-dan", Username: "dan", Password: "pd", Groups: []string{"helpdesk"}})
	noFollow := func(jar http.CookieJar) *http.Client {
		return &http.Client{Jar: jar, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	jar, _ := cookiejar.New(nil)
	browser := noFollow(jar)
	res, err := browser.Get(r.URL + "/api/sso/test/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	q, err := r.op.Authorize(context.Background(), res.Header.Get("Location"), "dan", "pd")
	if err != nil {
		t.Fatal(err)
	}
	callback := r.URL + "/api/sso/callback?" + q.Encode()
	// Another browser (no flow cookie) presenting the code is refused.
	otherJar, _ := cookiejar.New(nil)
	if loc := location(t, noFollow(otherJar), callback); !strings.Contains(loc, "sso_error=") {
		t.Fatalf("callback without the flow cookie: %s", loc)
	}
	if loc := location(t, browser, callback); loc != "/#/devices" {
		t.Fatalf("callback: %s", loc)
	}
	// Replayed: the flow is used up (the cookie is cleared; send it again by hand).
	if loc := location(t, browser, callback); !strings.Contains(loc, "sso_error=") {
		t.Fatalf("replayed callback: %s", loc)
	}
	reasons := map[string]int{}
	for _, rec := range auditRecords(t, r.admin, "login.refused") {
		reasons[rec.Details["reason"].(string)]++
	}
	// The first of a minute from one address is written at once, the rest summed later.
	if reasons["no_flow"] < 1 {
		t.Fatalf("refusals: %v", reasons)
	}
}

func location(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET %s: %d", u, res.StatusCode)
	}
	loc, _ := url.PathUnescape(res.Header.Get("Location"))
	return loc
}

// ssoClient signs user in at the rig's OP through the broker, as a
// browser would, and returns the logged-in client.
func (r *idpRig) ssoClient(t *testing.T, user, pw string) *client {
	t.Helper()
	c := r.newClient(t)
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.http.Get(r.URL + "/api/sso/test/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	q, err := r.op.Authorize(context.Background(), res.Header.Get("Location"), user, pw)
	if err != nil {
		t.Fatal(err)
	}
	if loc := location(t, c.http, r.URL+"/api/sso/callback?"+q.Encode()); loc != "/#/devices" {
		t.Fatalf("sign-in of %s: %s", user, loc)
	}
	return c
}

// TestSSOStepUpAndLocalLogin: an IdP user's step-up is a fresh sign-in at
// the IdP (prompt=login, max_age=0, auth_time checked), not a TOTP code they
// never set up; with auth.local_login = break_glass only the listed admins
// log in with a password.
func TestSSOStepUpAndLocalLogin(t *testing.T) {
	clk := clocktest.New(time.Now())
	r := startIdPRigClock(t, clk)
	r.op.SetClock(clk.Now)
	r.op.AddUser(oidctest.User{Subject: "s-sam", Username: "sam", Password: "ps", Groups: []string{"helpdesk"}})
	cfg := agent.Config{StateDir: filepath.Join(t.TempDir(), "agent"), Displays: oneDisplay, Support: support.Config{Asker: consenttest.Unanswered{}}}
	if _, err := agent.Enroll(context.Background(), cfg, r.env.URL, r.admin.enrollToken(1, time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, cfg)
	waitFor(t, "agent online", 10*time.Second, func() bool { return r.admin.device(a.DeviceID()).Online })
	if st, body := r.admin.do("PUT", "/api/settings/mfa.require_support", map[string]string{"scope": "global", "value": "true"}, nil); st != 200 {
		t.Fatalf("require_support: %d %s", st, body)
	}
	sam := r.ssoClient(t, "sam", "ps")
	clk.Advance(11 * time.Minute) // the sign-in's auth_time is no longer a fresh step-up
	dev := map[string]any{"device_id": a.DeviceID()}
	var refusal struct {
		StepUp  string   `json:"step_up"`
		Methods []string `json:"methods"`
	}
	st, body := sam.do("POST", "/api/sessions", dev, nil)
	_ = json.Unmarshal([]byte(body), &refusal)
	if st != 403 || refusal.StepUp != "idp" || len(refusal.Methods) != 1 {
		t.Fatalf("session without step-up: %d %s", st, body)
	}
	var start struct{ URL string }
	if st, body := sam.do("POST", "/api/sso/stepup", map[string]string{"return": "#/devices/" + a.DeviceID()}, &start); st != 200 {
		t.Fatalf("stepup: %d %s", st, body)
	}
	u, _ := url.Parse(start.URL)
	if u.Query().Get("prompt") != "login" || u.Query().Get("max_age") != "0" {
		t.Fatalf("step-up asks the IdP %s", start.URL)
	}
	// Someone else signing in at the IdP does not step sam up.
	r.op.AddUser(oidctest.User{Subject: "s-eve", Username: "eve", Password: "pe", Groups: []string{"helpdesk"}})
	q, err := r.op.Authorize(context.Background(), start.URL, "eve", "pe")
	if err != nil {
		t.Fatal(err)
	}
	if loc := location(t, sam.http, r.URL+"/api/sso/callback?"+q.Encode()); !strings.Contains(loc, "sso_error=") {
		t.Fatalf("eve's sign-in stepped sam up: %s", loc)
	}
	sam.do("POST", "/api/sso/stepup", map[string]string{"return": "#/devices"}, &start)
	if q, err = r.op.Authorize(context.Background(), start.URL, "sam", "ps"); err != nil {
		t.Fatal(err)
	}
	if loc := location(t, sam.http, r.URL+"/api/sso/callback?"+q.Encode()); loc != "/#/devices" {
		t.Fatalf("step-up callback: %s", loc)
	}
	if st, body := sam.do("POST", "/api/sessions", dev, nil); st != 201 {
		t.Fatalf("session after the IdP step-up: %d %s", st, body)
	}
	steps := auditRecords(t, r.admin, "mfa.step_up")
	if len(steps) != 1 || steps[0].Actor != "user:sam" || steps[0].Details["method"] != "idp" {
		t.Fatalf("mfa.step_up: %+v", steps)
	}
	mismatch := 0
	for _, rec := range auditRecords(t, r.admin, "login.refused") {
		if rec.Details["reason"] == "identity_mismatch" {
			mismatch++
		}
	}
	if mismatch != 1 {
		t.Fatalf("identity_mismatch refusals: %d", mismatch)
	}

	// Technicians need a phishing-resistant factor: sam's plain IdP sign-in
	// owes a passkey; one the IdP asserts as hardware-backed (amr hwk) does not.
	if st, body := r.admin.do("PUT", "/api/settings/auth.phishing_resistant_roles", map[string]string{"scope": "global", "value": "technician"}, nil); st != 200 {
		t.Fatalf("phishing_resistant_roles: %d %s", st, body)
	}
	pending := r.ssoClient(t, "sam", "ps")
	var st2 struct {
		Pending       bool   `json:"pending"`
		PendingFactor string `json:"pending_factor"`
	}
	if st, body := pending.do("GET", "/api/mfa", nil, &st2); st != 200 || !st2.Pending || st2.PendingFactor != "passkey" {
		t.Fatalf("plain IdP sign-in of a technician: %d %s", st, body)
	}
	if st, _ := pending.do("GET", "/api/devices", nil, nil); st != 401 {
		t.Fatalf("a session owing a passkey listed devices: %d", st)
	}
	r.op.SetAMR("sam", "hwk", "pwd")
	if st, body := r.ssoClient(t, "sam", "ps").do("GET", "/api/devices", nil, nil); st != 200 {
		t.Fatalf("phishing-resistant IdP sign-in: %d %s", st, body)
	}
	// A password login of a technician owes a passkey too; a TOTP code will not do.
	_, tpw := newUser(t, r.admin, "tia", "technician")
	tia := r.newClient(t)
	var lv struct{ MFA string }
	if st, body := tia.do("POST", "/api/login", map[string]string{"username": "tia", "password": tpw}, &lv); st != 200 || lv.MFA != "passkey" {
		t.Fatalf("password login of a technician: %d %s", st, body)
	}
	if st, body := tia.do("POST", "/api/login/mfa", map[string]string{"code": "123456"}, nil); st != 403 || !strings.Contains(body, "needs a passkey") {
		t.Fatalf("TOTP for a passkey-owing login: %d %s", st, body)
	}
	if st, _ := r.newClient(t).do("POST", "/api/cli/login", map[string]string{"username": "tia", "password": tpw}, nil); st != 403 {
		t.Fatalf("CLI password login of a technician: %d", st)
	}
	r.admin.do("PUT", "/api/settings/auth.phishing_resistant_roles", map[string]string{"scope": "global", "value": ""}, nil)

	// Local login for break-glass admins only.
	_, lpw := newUser(t, r.admin, "lou", "technician")
	for _, kv := range [][2]string{{"auth.break_glass_admins", "admin"}, {"auth.local_login", "break_glass"}} {
		if st, body := r.admin.do("PUT", "/api/settings/"+kv[0], map[string]string{"scope": "global", "value": kv[1]}, nil); st != 200 {
			t.Fatalf("%s: %d %s", kv[0], st, body)
		}
	}
	if st, body := r.newClient(t).do("POST", "/api/login", map[string]string{"username": "lou", "password": lpw}, nil); st != 403 ||
		!strings.Contains(body, "local password login is disabled") {
		t.Fatalf("lou's password login: %d %s", st, body)
	}
	r.login(t, "ADMIN", r.Password) // the break-glass admin, in any case
	refused := 0
	for _, rec := range auditRecords(t, r.admin, "login.failed") {
		if rec.Details["reason"] == "local_login_disabled" && rec.Details["username"] == "lou" {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("local_login_disabled refusals: %d", refused)
	}
	var g struct{ ID string }
	if st, body := r.admin.do("POST", "/api/groups", map[string]string{"name": "lab"}, &g); st != 201 {
		t.Fatalf("group: %d %s", st, body)
	}
	if st, _ := r.admin.do("PUT", "/api/settings/auth.local_login", map[string]string{"scope": "group:" + g.ID, "value": "on"}, nil); st != 400 {
		t.Fatalf("auth.local_login at group scope: %d", st)
	}
}
