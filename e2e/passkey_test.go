package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"porthole/agent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/support"
	"porthole/internal/browsertest"
	"porthole/internal/clock/clocktest"
)

// credential is WebAuthn.addCredential's credential without the CMTG
// fields cdproto always sends (Chromium 156 refuses them, even false, on
// an authenticator without CMTG keys).
type credential struct {
	CredentialID         []byte  `json:"credentialId"`
	IsResidentCredential bool    `json:"isResidentCredential"`
	RpID                 string  `json:"rpId"`
	PrivateKey           []byte  `json:"privateKey"`
	UserHandle           []byte  `json:"userHandle"`
	SignCount            float64 `json:"signCount"`
	BackupEligibility    bool    `json:"backupEligibility"`
	BackupState          bool    `json:"backupState"`
}

var addCredential = cdp.Command[struct {
	AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
	Credential      credential               `json:"credential"`
}, cdp.Empty]{Method: webauthn.CommandAddCredential}

// virtualAuthenticator adds a CTAP2 platform authenticator with resident
// keys and user verification (the user always verifies) to the browser.
func virtualAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatal(err)
	}
	return res.AuthenticatorID
}

// TestPasskeysBrowser: with Chromium's virtual authenticator a technician
// registers a passkey on the Account page, signs in with it (no password),
// passes the step-up before Support with it; a credential of another
// authenticator is refused for them, and so is the registered one once its
// sign count goes backwards (a clone), which is audited.
func TestPasskeysBrowser(t *testing.T) {
	clk := clocktest.New(time.Now())
	r := startIdPRigClock(t, clk)
	admin := r.admin
	cfg := agent.Config{StateDir: filepath.Join(t.TempDir(), "agent"), Displays: oneDisplay, Support: support.Config{Asker: consenttest.Unanswered{}}}
	if _, err := agent.Enroll(context.Background(), cfg, r.env.URL, admin.enrollToken(1, time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, cfg)
	waitFor(t, "agent online", 10*time.Second, func() bool { return admin.device(a.DeviceID()).Online })
	taraID, pw := newUser(t, admin, "tara", "technician")
	ctx := browsertest.New(t)
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	authA := virtualAuthenticator(t, ctx)

	// Password login, then register a passkey on the Account page.
	browsertest.Step(ctx, t, 20*time.Second,
		chromedp.Navigate(r.URL+"/#/login"),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), "tara"),
		chromedp.SendKeys(css(`#password`), pw),
		chromedp.Click(css(`#login-submit`)),
		chromedp.WaitVisible(css(`#topbar`)),
		chromedp.Poll[chromedp.Void](`location.hash === '#/devices'`),
	)
	browsertest.LiveStep(ctx, t, 20*time.Second,
		chromedp.Click(css(`#nav a[href="#/account"]`)),
		chromedp.WaitVisible(css(`#passkey-register`)),
		chromedp.SetValue(css(`#passkey-name`), "Laptop"),
		chromedp.Click(css(`#passkey-register`)),
		chromedp.WaitVisible(css(`tr.passkey`)),
	)
	if name := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`tr.passkey .passkey-name`))); name != "Laptop" {
		t.Fatalf("passkey listed as %q", name)
	}
	// Passwordless sign-in with it.
	passkeyLogin := func() {
		t.Helper()
		browsertest.Step(ctx, t, 20*time.Second,
			chromedp.Click(css(`#logout`)),
			chromedp.WaitVisible(css(`#passkey-login`)),
			chromedp.Click(css(`#passkey-login`)),
		)
	}
	passkeyLogin()
	browsertest.Step(ctx, t, 20*time.Second, chromedp.WaitVisible(css(`#topbar`)),
		chromedp.Poll[chromedp.Void](`document.getElementById('whoami').textContent === 'tara (technician)'`))

	// Support needs a fresh step-up: the login's has gone stale, so the
	// portal asks, and the passkey answers.
	if st, body := admin.do("PUT", "/api/settings/mfa.require_support", map[string]string{"scope": "global", "value": "true"}, nil); st != 200 {
		t.Fatalf("require_support: %d %s", st, body)
	}
	clk.Advance(11 * time.Minute)
	browsertest.LiveStep(ctx, t, 20*time.Second,
		chromedp.Click(css(`#nav a[href="#/devices"]`)),
		chromedp.WaitVisible(css(`button[data-support="`+a.DeviceID()+`"]`)),
		chromedp.Click(css(`button[data-support="`+a.DeviceID()+`"]`)),
		chromedp.WaitVisible(css(`#stepup-passkey`)),
		chromedp.Click(css(`#stepup-passkey`)),
	)
	browsertest.Step(ctx, t, 30*time.Second, chromedp.Poll[chromedp.Void](`location.hash.startsWith('#/sessions/')`))
	var sessions []struct{ ID, Requester string }
	if st, body := admin.do("GET", "/api/sessions", nil, &sessions); st != 200 || len(sessions) != 1 || sessions[0].Requester != "tara" {
		t.Fatalf("sessions: %d %s", st, body)
	}
	if n := len(auditRecords(t, admin, "session.step_up_required")); n != 1 {
		t.Fatalf("step-up refusals before the passkey: %d", n)
	}
	steps := auditRecords(t, admin, "mfa.step_up")
	if len(steps) != 1 || steps[0].Details["method"] != "passkey" {
		t.Fatalf("mfa.step_up: %+v", steps)
	}

	// A credential from another authenticator, for tara's account but never
	// registered with Porthole, is refused.
	creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: authA})
	if err != nil || len(creds.Credentials) != 1 {
		t.Fatalf("credentials of A: %v %v", creds, err)
	}
	registered := *creds.Credentials[0]
	if registered.SignCount < 2 {
		t.Fatalf("sign count after three uses: %v", registered.SignCount)
	}
	if _, err := chromedp.Call(ctx, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: authA}); err != nil {
		t.Fatal(err)
	}
	authB := virtualAuthenticator(t, ctx)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	if _, err := chromedp.Call(ctx, addCredential, struct {
		AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
		Credential      credential               `json:"credential"`
	}{authB, credential{CredentialID: []byte("another-authenticator-credential"), IsResidentCredential: true, RpID: "localhost",
		PrivateKey: pkcs8, UserHandle: []byte(taraID), SignCount: 1}}); err != nil {
		t.Fatal(err)
	}
	passkeyLogin()
	browsertest.Step(ctx, t, 20*time.Second, chromedp.WaitVisible(css(`#login-error:not(:empty)`)))
	if msg := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#login-error`))); !strings.Contains(msg, "not registered") {
		t.Fatalf("unregistered credential: %q", msg)
	}

	// The registered credential again, its counter set back: a clone.
	if _, err := chromedp.Call(ctx, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: authB}); err != nil {
		t.Fatal(err)
	}
	authC := virtualAuthenticator(t, ctx)
	clone := credential{CredentialID: registered.CredentialID, IsResidentCredential: true, RpID: registered.RpID,
		PrivateKey: registered.PrivateKey, UserHandle: registered.UserHandle, SignCount: 0,
		BackupEligibility: registered.BackupEligibility, BackupState: registered.BackupState}
	if _, err := chromedp.Call(ctx, addCredential, struct {
		AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
		Credential      credential               `json:"credential"`
	}{authC, clone}); err != nil {
		t.Fatal(err)
	}
	browsertest.Step(ctx, t, 20*time.Second, chromedp.Evaluate[chromedp.Void](`document.getElementById('login-error').textContent = ''`),
		chromedp.Click(css(`#passkey-login`)), chromedp.WaitVisible(css(`#login-error:not(:empty)`)))
	if msg := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#login-error`))); !strings.Contains(msg, "counter went backwards") {
		t.Fatalf("cloned credential: %q", msg)
	}
	clones := auditRecords(t, admin, "passkey.clone_detected")
	if len(clones) != 1 || clones[0].Actor != "user:tara" || clones[0].Details["reason"] != "sign_count_regressed" {
		t.Fatalf("passkey.clone_detected: %+v", clones)
	}
	unknown := 0
	for _, rec := range auditRecords(t, admin, "mfa.failed") {
		if rec.Details["reason"] == "passkey_unknown" {
			unknown++
		}
	}
	if unknown != 1 {
		t.Fatalf("unregistered credential refusals audited: %d", unknown)
	}
}
