package httpapi

import (
	"errors"
	"net/http"
	"time"

	"porthole/broker/auth"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// passwordStep is the first login step shared by the portal and the CLI.
// The attempt is reserved on its account's limiter (or the unknown names')
// and its address's before the password is hashed, so parallel guesses
// count as they arrive; the hash waits for a slot (auth.HashLimits) and a
// broker too busy answers 503 and refunds the attempt. Every failure is
// audited, and every refusal looks the same whether or not the user
// exists. It answers the request itself when ok is false.
func (a *API) passwordStep(w http.ResponseWriter, r *http.Request, req wire.LoginRequest, via string) (u store.User, ok bool) {
	ctx := r.Context()
	now := a.cfg.Clock.Now()
	look, err := a.cfg.Auth.Lookup(ctx, req.Username)
	if err != nil {
		a.fail(w, r, err)
		return u, false
	}
	if err := a.localLoginAllowed(r, look.Name); err != nil {
		_ = a.record(r, "login.failed", "", map[string]any{"username": look.Name, "reason": "local_login_disabled", "via": via})
		a.fail(w, r, err)
		return u, false
	}
	acct, err := a.loginCharge(ctx, r, look, now)
	if err != nil {
		a.fail(w, r, err)
		return u, false
	}
	at, wait := a.reserve(ctx, now, acct, a.addrCharge(r, ""))
	if wait > 0 {
		_ = a.record(r, "login.failed", "", map[string]any{"username": look.Name, "reason": "locked", "via": via})
		tooMany(w, wait)
		return u, false
	}
	u, err = a.cfg.Auth.Verify(ctx, look, req.Password)
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) { // a guess: it stays counted
			if aerr := a.record(r, "login.failed", "", map[string]any{"username": look.Name, "reason": "bad_credentials", "via": via}); aerr != nil {
				a.log.Error("audit login failure", "err", aerr)
			}
		} else {
			a.settle(ctx, at.refund) // no hash ran, or it broke: nothing was guessed
		}
		a.fail(w, r, err)
		return u, false
	}
	a.settle(ctx, at.succeed)
	return u, true
}

var errPasskeyCLI = errors.New("your role needs a phishing-resistant sign-in: use porthole login --sso with such an identity provider, or an API token made in the portal")

var errLocalLoginOff = errors.New("local password login is disabled: sign in with your identity provider")

// localLoginAllowed refuses a local login (password, or a passwordless
// passkey) when auth.local_login is break_glass and name is not one of
// auth.break_glass_admins. It is checked before the password is hashed:
// the answer is the same for every name not listed, existing or not.
func (a *API) localLoginAllowed(r *http.Request, name string) error {
	if a.cfg.Settings == nil {
		return nil
	}
	v, err := a.cfg.Settings.Effective(r.Context(), "", settings.LocalLogin)
	if err != nil {
		return err
	}
	if v.Value != settings.LocalLoginBreakGlass {
		return nil
	}
	list, err := a.cfg.Settings.Effective(r.Context(), "", settings.BreakGlassAdmins)
	if err != nil {
		return err
	}
	for _, n := range settings.List(list.Value) {
		if wire.FoldUsername(n) == name {
			return nil
		}
	}
	return errLocalLoginOff
}

// passwordLogin is the start both password logins share: it decodes the
// request, runs passwordStep (via says which login) and finds the second
// factor the user still owes ("", "verify" or "enroll"). It answers the
// request itself when ok is false.
func (a *API) passwordLogin(w http.ResponseWriter, r *http.Request, via string) (req wire.LoginRequest, u store.User, next string, ok bool) {
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return req, u, "", false
	}
	if u, ok = a.passwordStep(w, r, req, via); !ok {
		return req, u, "", false
	}
	next, err := a.secondFactor(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return req, u, "", false
	}
	// A role that needs a phishing-resistant factor owes a passkey
	// whatever else the account has (ADR 0015).
	if pr, err := a.needsPhishingResistant(r, u, false); err != nil {
		a.fail(w, r, err)
		return req, u, "", false
	} else if pr {
		next = "passkey"
	}
	return req, u, next, true
}

// login is the portal's password step. Without a second factor it starts
// a full session; otherwise a pending one that may only finish the login
// (POST /api/login/mfa) or set up TOTP first when the portal requires it
// (the answer's "mfa" says which: "verify" or "enroll"). Either way the
// session id is new, and a session the browser already had is ended.
func (a *API) login(w http.ResponseWriter, r *http.Request) {
	_, u, next, ok := a.passwordLogin(w, r, "portal")
	if !ok {
		return
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		_ = a.cfg.Auth.EndSession(r.Context(), auth.TokenHash(c.Value))
	}
	action := "login.ok"
	if next != "" {
		action = "login.password_ok"
	}
	// Audit before granting: a login that cannot be recorded does not happen.
	if err := a.recordAs(r, u.Username, action, u.ID, map[string]any{"mfa": next}); err != nil {
		a.fail(w, r, err)
		return
	}
	var (
		secret string
		err    error
	)
	switch next {
	case "":
		secret, err = a.cfg.Auth.StartSession(r.Context(), u)
	case "passkey":
		secret, err = a.cfg.Auth.StartSessionAs(r.Context(), u.ID, auth.SessionSpec{Pending: true, PendingFactor: "passkey"})
	default:
		secret, err = a.cfg.Auth.StartPendingSession(r.Context(), u)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if next == "" {
		a.loggedIn(r, u.ID) // with a second factor, once it is passed
	}
	a.setSessionCookie(w, secret)
	writeJSON(w, http.StatusOK, loginView{Username: u.Username, Role: u.Role, MFA: next})
}

// loginView answers the password step; MFA is "", "verify", "enroll" or
// "passkey" (the role needs a phishing-resistant factor: use or register one).
type loginView struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	MFA      string `json:"mfa,omitempty"`
}

func (a *API) setSessionCookie(w http.ResponseWriter, secret string) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: secret, Path: "/", HttpOnly: true,
		Secure: a.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
}

// cliLogin is the CLI's password step. A user with TOTP gets a short-lived
// ticket instead of a token, to trade with a code at /api/cli/login/mfa; a
// user who must enroll is told to do so in the portal. The token is only
// ever issued after the second factor.
func (a *API) cliLogin(w http.ResponseWriter, r *http.Request) {
	req, u, next, ok := a.passwordLogin(w, r, "cli")
	if !ok {
		return
	}
	switch next {
	case "enroll":
		_ = a.recordAs(r, u.Username, "login.failed", u.ID, map[string]any{"reason": "mfa_not_enrolled", "via": "cli"})
		a.fail(w, r, errEnrollFirst)
		return
	case "passkey":
		_ = a.recordAs(r, u.Username, "login.failed", u.ID, map[string]any{"reason": "phishing_resistant_required", "via": "cli"})
		a.fail(w, r, errPasskeyCLI)
		return
	case "verify":
		if err := a.recordAs(r, u.Username, "login.password_ok", u.ID, map[string]any{"mfa": next, "via": "cli"}); err != nil {
			a.fail(w, r, err)
			return
		}
		ticket, err := a.cfg.Auth.StartPendingSession(r.Context(), u)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"mfa_required": true, "ticket": ticket, "username": u.Username})
		return
	}
	a.issueCLIToken(w, r, u, req.TokenName, "")
}

func (a *API) issueCLIToken(w http.ResponseWriter, r *http.Request, u store.User, name, mfaMethod string) {
	if name == "" {
		name = "cli"
	}
	// The lifetime is the admins' choice (cli.token_hours).
	hours, err := a.cfg.Settings.Int(r.Context(), "", settings.CLITokenHours)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	id := auth.NewID()
	if err := a.recordAs(r, u.Username, "api_token.issued", u.ID, map[string]any{"name": name, "mfa": mfaMethod, "token": id,
		"hours": hours}); err != nil {
		a.fail(w, r, err)
		return
	}
	tok, t, err := a.cfg.Auth.IssueToken(r.Context(), u, auth.TokenSpec{ID: id, Name: name, TTL: time.Duration(hours) * time.Hour})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.loggedIn(r, u.ID)
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires_at": t.ExpiresAt, "username": u.Username, "role": u.Role})
}
