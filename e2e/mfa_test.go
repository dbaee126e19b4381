package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"porthole/agent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/support"
	"porthole/internal/browsertest"
	"porthole/internal/clock/clocktest"
)

// totpAt computes the code an authenticator app would show at t.
func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newClient is a client without a session.
func (e *env) newClient(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: e.URL, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// loginCode logs in with a password and a second-factor code.
func (e *env) loginCode(t *testing.T, user, pw, code string) *client {
	t.Helper()
	c := e.newClient(t)
	var res struct{ MFA string }
	if st, body := c.do("POST", "/api/login", map[string]string{"username": user, "password": pw}, &res); st != 200 || res.MFA != "verify" {
		t.Fatalf("password step %s: %d %s", user, st, body)
	}
	if st, body := c.do("POST", "/api/login/mfa", map[string]string{"code": code}, nil); st != 200 {
		t.Fatalf("code step %s: %d %s", user, st, body)
	}
	return c
}

// enrollAPI enrolls c's user at clk's time and returns the secret and the
// recovery codes.
func enrollAPI(t *testing.T, c *client, clk interface{ Now() time.Time }) (string, []string) {
	t.Helper()
	var enr struct{ Secret string }
	if st, body := c.do("POST", "/api/mfa/enroll", nil, &enr); st != 200 {
		t.Fatalf("enroll: %d %s", st, body)
	}
	var conf struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if st, body := c.do("POST", "/api/mfa/confirm", map[string]string{"code": totpAt(t, enr.Secret, clk.Now())}, &conf); st != 200 {
		t.Fatalf("confirm: %d %s", st, body)
	}
	return enr.Secret, conf.RecoveryCodes
}

// auditRecords returns audit records of one action, newest first.
func auditRecords(t *testing.T, c *client, action string) []struct {
	Actor, Action, Target string
	Details               map[string]any
} {
	t.Helper()
	var recs []struct {
		Actor, Action, Target string
		Details               map[string]any
	}
	if st, body := c.do("GET", "/api/audit?limit=1000&action="+action, nil, &recs); st != 200 {
		t.Fatalf("audit: %d %s", st, body)
	}
	return recs
}

func newUser(t *testing.T, admin *client, name, role string) (id, pw string) {
	t.Helper()
	var u struct{ ID, Password string }
	if st, body := admin.do("POST", "/api/users", map[string]string{"username": name, "role": role}, &u); st != 201 {
		t.Fatalf("create %s: %d %s", name, st, body)
	}
	return u.ID, u.Password
}

// TestMFAEnrollBrowser enrolls TOTP through the Account page (the secret
// read from the page, codes computed here), logs out, logs back in with
// password + code, sees the same code refused a second time, and uses a
// recovery code exactly once.
func TestMFAEnrollBrowser(t *testing.T) {
	clk := clocktest.New(time.Now())
	e := startBroker(t, clk)
	ctx := browsertest.New(t)

	loginPassword := func() {
		t.Helper()
		browsertest.Step(ctx, t, 20*time.Second,
			chromedp.WaitVisible(css(`#username`)),
			chromedp.SendKeys(css(`#username`), "admin"),
			chromedp.SendKeys(css(`#password`), e.Password),
			chromedp.Click(css(`#login-submit`)),
		)
	}
	logout := func() {
		t.Helper()
		browsertest.Step(ctx, t, 20*time.Second, chromedp.Click(css(`#logout`)), chromedp.WaitVisible(css(`#username`)))
	}
	submitCode := func(code string) {
		t.Helper()
		browsertest.Step(ctx, t, 20*time.Second,
			chromedp.WaitVisible(css(`#mfa-code`)),
			chromedp.SendKeys(css(`#mfa-code`), code),
			chromedp.Click(css(`#mfa-submit`)),
		)
	}
	loggedIn := func() {
		t.Helper()
		browsertest.Step(ctx, t, 20*time.Second, chromedp.WaitVisible(css(`#topbar`)), chromedp.WaitVisible(css(`.empty`)))
	}
	codeRefused := func() {
		t.Helper()
		browsertest.Step(ctx, t, 20*time.Second, chromedp.WaitVisible(css(`#mfa-error:not(:empty)`)))
		if msg := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#mfa-error`))); msg != "invalid authentication code" {
			t.Fatalf("code error shown: %q", msg)
		}
	}

	browsertest.Step(ctx, t, 20*time.Second, chromedp.Navigate(e.URL+"/"))
	loginPassword()
	loggedIn()
	browsertest.Step(ctx, t, 20*time.Second,
		chromedp.Click(css(`#nav a[href="#/account"]`)),
		chromedp.WaitVisible(css(`#mfa-status[data-enrolled="false"]`)),
		chromedp.Click(css(`#mfa-enroll-start`)),
		chromedp.WaitVisible(css(`#mfa-secret`)),
	)
	secret := strings.TrimSpace(browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#mfa-secret`))))
	if len(secret) < 26 {
		t.Fatalf("secret on the page: %q", secret)
	}
	// The QR code is a real PNG from the same origin.
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Poll[chromedp.Void](`document.getElementById('mfa-qr').complete && document.getElementById('mfa-qr').naturalWidth > 0`))
	if w := browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[int](`document.getElementById('mfa-qr').naturalWidth`)); w != 200 {
		t.Fatalf("QR image width %d, want 200", w)
	}
	// A wrong first code enrolls nothing.
	browsertest.Step(ctx, t, 20*time.Second,
		chromedp.SendKeys(css(`#enroll-code`), "000000"),
		chromedp.Click(css(`#enroll-submit`)),
		chromedp.WaitVisible(css(`#enroll-error:not(:empty)`)),
		chromedp.SendKeys(css(`#enroll-code`), totpAt(t, secret, clk.Now())),
		chromedp.Click(css(`#enroll-submit`)),
		chromedp.WaitVisible(css(`#recovery-codes`)),
		chromedp.WaitVisible(css(`#mfa-status[data-enrolled="true"]`)),
	)
	recovery := browsertest.Value(ctx, t, 5*time.Second,
		chromedp.Evaluate[[]string](`[...document.querySelectorAll('.recovery-code')].map((e) => e.textContent)`))
	if len(recovery) != 10 {
		t.Fatalf("recovery codes shown: %v", recovery)
	}

	// Log out, log in with password + the next code.
	logout()
	loginPassword()
	clk.Advance(30 * time.Second)
	code := totpAt(t, secret, clk.Now())
	submitCode(code)
	loggedIn()

	// The same code a second time is refused, then a recovery code works.
	logout()
	loginPassword()
	submitCode(code)
	codeRefused()
	submitCode(recovery[0])
	loggedIn()
	// That recovery code works once only.
	logout()
	loginPassword()
	submitCode(recovery[0])
	codeRefused()
	clk.Advance(30 * time.Second)
	submitCode(totpAt(t, secret, clk.Now()))
	loggedIn()

	// The Account page now counts nine recovery codes, and the audit log
	// has the enrollment and the refusals with their reasons (no codes).
	browsertest.Step(ctx, t, 20*time.Second, chromedp.Click(css(`#nav a[href="#/account"]`)), chromedp.WaitVisible(css(`#mfa-recovery-left`)))
	if left := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#mfa-recovery-left`))); left != "9" {
		t.Fatalf("recovery codes left: %q", left)
	}
	clk.Advance(30 * time.Second)
	api := e.loginCode(t, "admin", e.Password, totpAt(t, secret, clk.Now()))
	if n := len(auditRecords(t, api, "mfa.enrolled")); n != 1 {
		t.Fatalf("mfa.enrolled records: %d", n)
	}
	reasons := map[string]int{}
	for _, r := range auditRecords(t, api, "mfa.failed") {
		reasons[r.Details["reason"].(string)]++
		b, _ := json.Marshal(r)
		if bytes.Contains(b, []byte(code)) || bytes.Contains(b, []byte(recovery[0])) {
			t.Fatalf("a code reached the audit log: %s", b)
		}
	}
	if reasons["replayed"] != 1 || reasons["invalid"] != 1 {
		t.Fatalf("mfa.failed reasons: %v", reasons)
	}
}

// TestMFAStepUpForSupport: with step-up on, the broker API refuses to start
// a support session without a TOTP verified within the window, and starts
// it once the user verifies one.
func TestMFAStepUpForSupport(t *testing.T) {
	clk := clocktest.New(time.Now())
	e := startBroker(t, clk)
	admin := e.login(t, "admin", e.Password)
	state := filepath.Join(t.TempDir(), "agent")
	cfg := agent.Config{StateDir: state, Displays: oneDisplay, Support: support.Config{Asker: consenttest.Unanswered{}}}
	if _, err := agent.Enroll(context.Background(), cfg, e.URL, admin.enrollToken(1, time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, cfg)
	waitFor(t, "agent online", 10*time.Second, func() bool { return admin.device(a.DeviceID()).Online })
	_, techPW := newUser(t, admin, "tess", "technician")
	secret, recovery := enrollAPI(t, admin, clk)
	if st, body := admin.do("PUT", "/api/settings/mfa.require_support", map[string]string{"scope": "global", "value": "true"}, nil); st != 200 {
		t.Fatalf("require_support: %d %s", st, body)
	}
	if st, _ := admin.do("PUT", "/api/settings/mfa.stepup_minutes", map[string]string{"scope": "global", "value": "0"}, nil); st != 400 {
		t.Fatalf("stepup_minutes 0 accepted: %d", st)
	}
	dev := map[string]any{"device_id": a.DeviceID()}
	type refusal struct {
		Error  string `json:"error"`
		StepUp string `json:"step_up"`
	}
	refused := func(c *client, need string) {
		t.Helper()
		st, body := c.do("POST", "/api/sessions", dev, nil)
		var r refusal
		_ = json.Unmarshal([]byte(body), &r)
		if st != 403 || r.StepUp != need || r.Error == "" {
			t.Fatalf("session without step-up: %d %s, want 403 step_up=%s", st, body, need)
		}
	}

	// A recovery code logs in but is no step-up.
	c := e.newClient(t)
	c.do("POST", "/api/login", map[string]string{"username": "admin", "password": e.Password}, nil)
	if st, body := c.do("POST", "/api/login/mfa", map[string]string{"code": recovery[0]}, nil); st != 200 {
		t.Fatalf("recovery login: %d %s", st, body)
	}
	refused(c, "code")
	// A wrong code does not count.
	if st, _ := c.do("POST", "/api/mfa/stepup", map[string]string{"code": "000000"}, nil); st != 401 {
		t.Fatalf("wrong step-up code: %d", st)
	}
	refused(c, "code")
	clk.Advance(30 * time.Second)
	if st, body := c.do("POST", "/api/mfa/stepup", map[string]string{"code": totpAt(t, secret, clk.Now())}, nil); st != 200 {
		t.Fatalf("step-up: %d %s", st, body)
	}
	var s struct{ ID, State string }
	if st, body := c.do("POST", "/api/sessions", dev, &s); st != 201 {
		t.Fatalf("session after step-up: %d %s", st, body)
	}
	if st, body := c.do("POST", "/api/sessions/"+s.ID+"/end", nil, nil); st != 200 {
		t.Fatalf("end: %d %s", st, body)
	}
	// The window closes (default 10 minutes).
	clk.Advance(11 * time.Minute)
	refused(c, "code")
	// Without MFA at all: enroll first. API tokens cannot step up.
	refused(e.login(t, "tess", techPW), "enroll")
	tok := e.newClient(t)
	var res struct{ Ticket string }
	tok.do("POST", "/api/cli/login", map[string]string{"username": "admin", "password": e.Password}, &res)
	clk.Advance(30 * time.Second)
	var issued struct{ Token string }
	if st, body := tok.do("POST", "/api/cli/login/mfa", map[string]string{"ticket": res.Ticket, "code": totpAt(t, secret, clk.Now())}, &issued); st != 200 {
		t.Fatalf("cli login: %d %s", st, body)
	}
	req, _ := http.NewRequest("POST", e.URL+"/api/sessions", strings.NewReader(`{"device_id":"`+a.DeviceID()+`"}`))
	req.Header.Set("Authorization", "Bearer "+issued.Token)
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 403 {
		t.Fatalf("token started a session without step-up: %d", r.StatusCode)
	}
	recs := auditRecords(t, c, "session.step_up_required")
	if len(recs) < 5 {
		t.Fatalf("step-up refusals audited: %d", len(recs))
	}
	if n := len(auditRecords(t, c, "mfa.step_up")); n != 1 {
		t.Fatalf("mfa.step_up records: %d", n)
	}
}

// TestMFAStepUpForPrivileged: with mfa.require_privileged on, creating a
// break-glass account and issuing an elevation code need a fresh TOTP code.
// In the portal, Generate asks for the code in a dialog and then goes
// through; through the API the refusal says step_up=code until the
// session steps up. Refusals are audited as mfa.step_up_required.
func TestMFAStepUpForPrivileged(t *testing.T) {
	clk := clocktest.New(time.Now())
	e, admin, root, dev := startBGDevice(t, clk)
	ctx := browsertest.New(t)
	browsertest.Step(ctx, t, 20*time.Second,
		loginSteps(e, "admin", e.Password),
		chromedp.WaitVisible(css(`tr[data-device="`+dev+`"]`)))
	secret, _ := enrollAPI(t, admin, clk)
	if st, body := admin.do("PUT", "/api/settings/mfa.require_privileged", map[string]string{"scope": "global", "value": "true"}, nil); st != 200 {
		t.Fatalf("require_privileged: %d %s", st, body)
	}
	clk.Advance(11 * time.Minute) // past the step-up window of the enrollment's own code
	code := map[string]any{"minutes": 30}
	var refusal struct {
		Error  string `json:"error"`
		StepUp string `json:"step_up"`
	}
	st, body := admin.do("POST", "/api/devices/"+dev+"/elevation-codes", code, nil)
	_ = json.Unmarshal([]byte(body), &refusal)
	if st != 403 || refusal.StepUp != "code" ||
		!strings.Contains(refusal.Error, "issuing an elevation code needs a fresh authenticator code") {
		t.Fatalf("code without step-up: %d %s", st, body)
	}

	defer func() {
		if t.Failed() {
			t.Logf("page: %s\naudit:\n%s", evalString(t, ctx, `location.hash + ' ' + document.body.innerText`), auditActions(t, admin, dev))
		}
	}()
	// The portal asks for the code, then creates the account.
	browsertest.Step(ctx, t, 40*time.Second,
		chromedp.Navigate(e.URL+"/#/devices/"+dev),
		chromedp.WaitVisible(css(`#bg-generate`)), settled(),
		chromedp.SetValue(css(`#bg-minutes`), "30"),
		chromedp.Click(css(`#bg-generate`)),
		chromedp.WaitVisible(css(`#stepup-code`)))
	if txt := evalString(t, ctx, `document.getElementById('stepup-dialog').textContent`); !strings.Contains(txt, "creating a break-glass account needs") {
		t.Fatalf("step-up dialog says %q", txt)
	}
	clk.Advance(30 * time.Second) // the next TOTP step: the enrollment's code is spent
	browsertest.Step(ctx, t, 30*time.Second,
		chromedp.SendKeys(css(`#stepup-code`), totpAt(t, secret, clk.Now())),
		chromedp.Click(css(`#stepup-submit`)),
		chromedp.WaitVisible(css(`#bg-password`)))
	if user := evalString(t, ctx, `document.getElementById('bg-username').value`); !root.UserExists(t, user) {
		t.Fatalf("no account %q after the step-up", user)
	}
	if n := len(auditRecords(t, admin, "mfa.step_up_required")); n != 2 {
		t.Fatalf("mfa.step_up_required records: %d, want 2", n)
	}
	// The API client steps up too, and then issues its code.
	clk.Advance(30 * time.Second)
	if st, body := admin.do("POST", "/api/mfa/stepup", map[string]string{"code": totpAt(t, secret, clk.Now())}, nil); st != 200 {
		t.Fatalf("step-up: %d %s", st, body)
	}
	if st, body := admin.do("POST", "/api/devices/"+dev+"/elevation-codes", code, nil); st != 201 {
		t.Fatalf("code after step-up: %d %s", st, body)
	}
}

// TestLoginBruteForce: 20 wrong passwords lock the account and slow the
// address; the right password is refused while locked, also after a
// broker restart; the lock lifts after its time on the injected clock. Refusals never say whether the
// user exists, and every failure is audited.
func TestLoginBruteForce(t *testing.T) {
	clk := clocktest.New(time.Now())
	e := startBroker(t, clk)
	admin := e.login(t, "admin", e.Password)
	_, pw := newUser(t, admin, "tina", "technician")
	anon := e.newClient(t)
	try := func(user, pass string) (int, int, string) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"username": user, "password": pass})
		res, err := anon.http.Post(e.URL+"/api/login", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ Error string }
		_ = json.NewDecoder(res.Body).Decode(&body)
		ra, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		return res.StatusCode, ra, body.Error
	}
	// Unknown user and wrong password look the same.
	_, _, msgGhost := try("ghost", "x")
	_, _, msgWrong := try("tina", "x")
	if msgGhost != msgWrong || msgWrong != "invalid username or password" {
		t.Fatalf("messages differ: %q vs %q", msgGhost, msgWrong)
	}
	failures, locks := 1, 0
	for failures < 20 {
		st, ra, _ := try("tina", "wrong")
		switch st {
		case 401:
			failures++
		case 429:
			if ra < 1 {
				t.Fatalf("429 without Retry-After")
			}
			locks++
			clk.Advance(time.Duration(ra) * time.Second)
		default:
			t.Fatalf("wrong password: %d", st)
		}
	}
	if locks < 10 {
		t.Fatalf("only %d delays in 20 failures", locks)
	}
	// Locked: the right password is refused, for about 15 minutes.
	st, ra, msg := try("tina", pw)
	if st != 429 || ra < 14*60 || ra > 15*60 || !strings.Contains(msg, "try again later") {
		t.Fatalf("right password during lockout: %d retry-after %d %q", st, ra, msg)
	}
	// The address is slowed too: another account from it waits (at most a minute).
	st, raIP, _ := try("admin", e.Password)
	if st != 429 || raIP < 1 || raIP > 60 {
		t.Fatalf("other account from the same address: %d retry-after %d", st, raIP)
	}
	clk.Advance(time.Duration(raIP) * time.Second)
	if st, _, _ := try("admin", e.Password); st != 200 {
		t.Fatalf("admin after the address delay: %d", st)
	}
	if st, _, _ := try("tina", pw); st != 429 {
		t.Fatalf("tina still locked: %d", st)
	}
	// A broker restart does not lift the account's lockout.
	adminPW := e.Password
	e.stop()
	e = startBrokerIn(t, e.DataDir, clk)
	e.Password = adminPW
	if st, ra, _ := try("tina", pw); st != 429 || ra < 13*60 {
		t.Fatalf("tina after a broker restart: %d retry-after %d", st, ra)
	}
	clk.Advance(15 * time.Minute)
	if st, _, msg := try("tina", pw); st != 200 {
		t.Fatalf("right password after the lock: %d %q", st, msg)
	}
	admin = e.login(t, "admin", e.Password)
	byReason := map[string]int{}
	for _, r := range auditRecords(t, admin, "login.failed") {
		if r.Details["username"] == "tina" {
			byReason[r.Details["reason"].(string)]++
		}
		b, _ := json.Marshal(r)
		if bytes.Contains(b, []byte(pw)) {
			t.Fatal("a password reached the audit log")
		}
	}
	if byReason["bad_credentials"] != 20 || byReason["locked"] != locks+3 {
		t.Fatalf("audited failures for tina: %v (locks %d)", byReason, locks)
	}
}

// TestMFAAdminReset: an admin resets a user's MFA (audited), which ends the
// user's sessions; with "Require MFA for portal users" on, the user must
// enroll right after the password and can do nothing else until then.
func TestMFAAdminReset(t *testing.T) {
	clk := clocktest.New(time.Now())
	e := startBroker(t, clk)
	admin := e.login(t, "admin", e.Password)
	id, pw := newUser(t, admin, "tom", "technician")
	tom := e.login(t, "tom", pw)
	if st, body := tom.do("POST", "/api/users/"+id+"/mfa/reset", nil, nil); st != 403 {
		t.Fatalf("technician reset MFA: %d %s", st, body)
	}
	if st, _ := admin.do("POST", "/api/users/"+id+"/mfa/reset", nil, nil); st != 409 {
		t.Fatalf("reset without enrollment: %d", st)
	}
	enrollAPI(t, tom, clk)
	var ms struct{ Enrolled bool }
	if admin.do("GET", "/api/users/"+id+"/mfa", nil, &ms); !ms.Enrolled {
		t.Fatal("admin does not see tom enrolled")
	}
	// Enrolling again over a confirmed enrollment is refused.
	if st, _ := tom.do("POST", "/api/mfa/enroll", nil, nil); st != 409 {
		t.Fatalf("second enrollment: %d", st)
	}
	var res struct {
		Status        string
		SessionsEnded int `json:"sessions_ended"`
	}
	if st, body := admin.do("POST", "/api/users/"+id+"/mfa/reset", nil, &res); st != 200 || res.SessionsEnded != 1 {
		t.Fatalf("reset: %d %s", st, body)
	}
	if st, _ := tom.do("GET", "/api/me", nil, nil); st != 401 {
		t.Fatalf("tom's session survived the reset: %d", st)
	}
	recs := auditRecords(t, admin, "mfa.reset")
	if len(recs) != 1 || recs[0].Actor != "user:admin" || recs[0].Target != id {
		t.Fatalf("mfa.reset audit: %+v", recs)
	}
	// Without an enrollment the password alone logs in (MFA optional).
	c := e.newClient(t)
	var lr struct{ MFA string }
	if st, body := c.do("POST", "/api/login", map[string]string{"username": "tom", "password": pw}, &lr); st != 200 || lr.MFA != "" {
		t.Fatalf("login after reset: %d %s", st, body)
	}

	// Required for everyone: the password step yields a session that can
	// only enroll.
	if st, body := admin.do("PUT", "/api/settings/mfa.require_portal", map[string]string{"scope": "global", "value": "true"}, nil); st != 200 {
		t.Fatalf("require_portal: %d %s", st, body)
	}
	p := e.newClient(t)
	if st, body := p.do("POST", "/api/login", map[string]string{"username": "tom", "password": pw}, &lr); st != 200 || lr.MFA != "enroll" {
		t.Fatalf("login with MFA required: %d %s", st, body)
	}
	for _, path := range []string{"/api/me", "/api/devices", "/api/sessions"} {
		if st, _ := p.do("GET", path, nil, nil); st != 401 {
			t.Fatalf("pending session on %s: %d", path, st)
		}
	}
	if st, _ := p.do("POST", "/api/mfa/stepup", map[string]string{"code": "123456"}, nil); st != 401 {
		t.Fatalf("pending session stepped up: %d", st)
	}
	enrollAPI(t, p, clk)
	if st, body := p.do("GET", "/api/devices", nil, nil); st != 200 {
		t.Fatalf("after enrolling: %d %s", st, body)
	}
	// The CLI cannot enroll: it is told to use the portal. (The admin,
	// not enrolled, is refused the same way.)
	if st, body := e.newClient(t).do("POST", "/api/cli/login", map[string]string{"username": "admin", "password": e.Password}, nil); st != 403 ||
		!strings.Contains(body, "portal") {
		t.Fatalf("cli login without MFA under require_portal: %d %s", st, body)
	}
}
