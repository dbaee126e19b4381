package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode"

	"porthole/broker/auth"
	"porthole/broker/passkey"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// Passkey routes: registration and removal on the Account page,
// passwordless sign-in, and "verify" — the second factor of a login or a
// step-up (user verification required for all). The credential JSON
// inside each finish body is parsed by go-webauthn; PasskeyFinish is our
// wrapper around it.
func (a *API) passkeyRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/passkeys", a.authed("", a.listPasskeys))
	m.HandleFunc("DELETE /api/passkeys/{id}", a.authed("", a.deletePasskey))
	m.HandleFunc("POST /api/passkeys/register/begin", a.mfaAuthed(a.passkeyRegisterBegin))
	m.HandleFunc("POST /api/passkeys/register/finish", a.mfaAuthed(a.passkeyRegisterFinish))
	m.HandleFunc("POST /api/passkeys/login/begin", a.passkeyLoginBegin)
	m.HandleFunc("POST /api/passkeys/login/finish", a.passkeyLoginFinish)
	m.HandleFunc("POST /api/passkeys/verify/begin", a.mfaAuthed(a.passkeyVerifyBegin))
	m.HandleFunc("POST /api/passkeys/verify/finish", a.mfaAuthed(a.passkeyVerifyFinish))
}

// PasskeyFinish ends a ceremony: its id (from begin), the name of a new
// passkey (registration), and the browser's credential JSON.
type PasskeyFinish struct {
	Ceremony   string          `json:"ceremony"`
	Name       string          `json:"name,omitempty"`
	Credential json.RawMessage `json:"credential"`
}

const maxCredentialJSON = 16 << 10

// Validate bounds the wrapper; the credential is parsed by go-webauthn.
func (p *PasskeyFinish) Validate() error {
	switch {
	case p.Ceremony == "" || len(p.Ceremony) > 64:
		return fmt.Errorf("%w: ceremony required (at most 64 characters)", wire.ErrInvalid)
	case len(p.Name) > 64:
		return fmt.Errorf("%w: name at most 64 characters", wire.ErrInvalid)
	case len(p.Credential) == 0 || len(p.Credential) > maxCredentialJSON || p.Credential[0] != '{':
		return fmt.Errorf("%w: credential must be the browser's PublicKeyCredential JSON object", wire.ErrInvalid)
	}
	for _, r := range p.Name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: name must be printable", wire.ErrInvalid)
		}
	}
	return nil
}

// PasskeyView is a registered passkey as the Account page lists it.
type PasskeyView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	AAGUID     string     `json:"aaguid"`
	Transports []string   `json:"transports"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

func passkeyView(c store.WebAuthnCredential) PasskeyView {
	v := PasskeyView{ID: c.ID, Name: c.Name, AAGUID: fmt.Sprintf("%x", c.AAGUID), Transports: orEmpty(c.Transports), CreatedAt: c.CreatedAt}
	if !c.LastUsedAt.IsZero() {
		t := c.LastUsedAt
		v.LastUsedAt = &t
	}
	return v
}

func (a *API) listPasskeys(w http.ResponseWriter, r *http.Request) {
	cs, err := a.cfg.Store.UserWebAuthnCredentials(r.Context(), principal(r).UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]PasskeyView, 0, len(cs))
	for _, c := range cs {
		out = append(out, passkeyView(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// deletePasskey removes one of the caller's passkeys (audited first).
func (a *API) deletePasskey(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if p.SessionHash == "" {
		a.fail(w, r, errNeedsBrowser)
		return
	}
	c, err := a.cfg.Store.WebAuthnCredentialByID(r.Context(), r.PathValue("id"))
	if err != nil || c.UserID != p.UserID {
		a.fail(w, r, fmt.Errorf("passkey: %w", store.ErrNotFound))
		return
	}
	if err := a.record(r, "passkey.removed", p.UserID, map[string]any{"credential": c.ID, "name": c.Name}); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Store.DeleteWebAuthnCredential(r.Context(), p.UserID, c.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"removed": true})
}

func (a *API) user(r *http.Request) (store.User, error) {
	return a.cfg.Store.UserByID(r.Context(), principal(r).UserID)
}

// passkeyRegisterBegin starts a registration. A full session may add
// passkeys; a pending one only when what it owes is a passkey (its role
// needs one and it has none), never instead of a TOTP code it owes.
func (a *API) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	switch {
	case p.SessionHash == "":
		a.fail(w, r, errNeedsBrowser)
		return
	case p.MFAPending && p.PendingFactor != "passkey":
		a.fail(w, r, errMFAPending)
		return
	}
	u, err := a.user(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	opts, id, err := a.cfg.Passkeys.BeginRegistration(r.Context(), u, p.SessionHash)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ceremony": id, "options": opts})
}

func (a *API) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if p.SessionHash == "" || (p.MFAPending && p.PendingFactor != "passkey") {
		a.fail(w, r, errMFAPending)
		return
	}
	var req PasskeyFinish
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.Name == "" {
		req.Name = "Passkey"
	}
	u, err := a.user(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.cfg.Passkeys.FinishRegistration(r.Context(), u, p.SessionHash, req.Ceremony, req.Name, req.Credential)
	if err != nil {
		_ = a.record(r, "passkey.register_failed", p.UserID, map[string]any{"error": err.Error()})
		a.fail(w, r, err)
		return
	}
	// Fail closed: a passkey that cannot be audited is removed again.
	if err := a.record(r, "passkey.registered", p.UserID, map[string]any{"credential": c.ID, "name": c.Name,
		"aaguid": fmt.Sprintf("%x", c.AAGUID), "during_login": p.MFAPending}); err != nil {
		_ = a.cfg.Store.DeleteWebAuthnCredential(r.Context(), p.UserID, c.ID)
		a.fail(w, r, err)
		return
	}
	if p.MFAPending { // the registration was the phishing-resistant factor this login owed
		if !a.passkeySession(w, r, u, p.SessionHash, "password+passkey", map[string]any{"mfa": "passkey_registered"}) {
			return
		}
	}
	writeJSON(w, http.StatusCreated, passkeyView(c))
}

// passkeySession starts a full session (fresh id) for u after a passkey,
// which also counts as a phishing-resistant step-up; oldHash (if any) ends.
func (a *API) passkeySession(w http.ResponseWriter, r *http.Request, u store.User, oldHash, method string, details map[string]any) bool {
	details["via"] = method
	if err := a.recordAs(r, u.Username, "login.ok", u.ID, details); err != nil {
		a.fail(w, r, err)
		return false
	}
	if oldHash == "" {
		if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
			oldHash = auth.TokenHash(c.Value)
		}
	}
	spec := auth.SessionSpec{LoginMethod: method, MFAAt: a.cfg.Clock.Now(), MFAMethod: "passkey"}
	secret, err := a.cfg.Auth.Rotate(r.Context(), oldHash, u.ID, spec)
	if err != nil {
		a.fail(w, r, err)
		return false
	}
	a.loggedIn(r, u.ID)
	a.setSessionCookie(w, secret)
	return true
}

func (a *API) passkeyLoginBegin(w http.ResponseWriter, r *http.Request) {
	opts, id, err := a.cfg.Passkeys.BeginLogin()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ceremony": id, "options": opts})
}

// passkeyLoginFinish signs in passwordless. It is a local login: refused
// for accounts that sign in at an identity provider (their rights come
// from its groups at each sign-in) and, with auth.local_login =
// break_glass, for everyone but the break-glass admins.
func (a *API) passkeyLoginFinish(w http.ResponseWriter, r *http.Request) {
	var req PasskeyFinish
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	as, err := a.cfg.Passkeys.FinishLogin(r.Context(), req.Ceremony, req.Credential)
	if err == nil {
		err = a.passkeyAllowed(r, as.User)
	}
	if err != nil {
		a.passkeyRefused(w, r, as, "login", err)
		return
	}
	if !a.passkeySession(w, r, as.User, "", "passkey", map[string]any{"mfa": "passkey", "credential": as.Credential.ID}) {
		return
	}
	writeJSON(w, http.StatusOK, meView{Username: as.User.Username, Role: as.User.Role})
}

var errSSOOnly = errors.New("this account signs in at its identity provider")

func (a *API) passkeyAllowed(r *http.Request, u store.User) error {
	if u.Disabled {
		return passkey.ErrFailed
	}
	if u.PasswordHash == "" {
		if ids, err := a.cfg.Store.UserIdentities(r.Context(), u.ID); err != nil {
			return err
		} else if len(ids) > 0 {
			return errSSOOnly
		}
	}
	return a.localLoginAllowed(r, u.Username)
}

// passkeyRefused audits a refused passkey (a cloned one as
// passkey.clone_detected) and answers.
func (a *API) passkeyRefused(w http.ResponseWriter, r *http.Request, as passkey.Assertion, step string, err error) {
	action, reason := "mfa.failed", "passkey_invalid"
	switch {
	case errors.Is(err, passkey.ErrCloned):
		action, reason = "passkey.clone_detected", "sign_count_regressed"
	case errors.Is(err, passkey.ErrUnknown):
		reason = "passkey_unknown"
	case errors.Is(err, passkey.ErrNoCeremony):
		reason = "no_ceremony"
	case errors.Is(err, errSSOOnly):
		reason = "sso_only"
	case errors.Is(err, errLocalLoginOff):
		reason = "local_login_disabled"
	}
	d := map[string]any{"step": step, "reason": reason}
	if as.Credential.ID != "" {
		d["credential"], d["stored_sign_count"], d["sign_count"] = as.Credential.ID, as.Credential.SignCount, as.SignCount
	}
	actor := "anonymous"
	if as.User.Username != "" {
		actor = "user:" + as.User.Username
	}
	if aerr := a.recordActor(r, actor, action, as.User.ID, d); aerr != nil {
		a.log.Error("audit passkey refusal", "err", aerr)
	}
	a.fail(w, r, err)
}

// passkeyVerifyBegin starts a check of the caller's passkey: the second
// factor of a pending login (instead of TOTP, or the phishing-resistant
// one its role needs), or a step-up of a full session.
func (a *API) passkeyVerifyBegin(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if p.SessionHash == "" {
		a.fail(w, r, errNeedsBrowser)
		return
	}
	u, err := a.user(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	opts, id, err := a.cfg.Passkeys.BeginVerify(r.Context(), u, p.SessionHash)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ceremony": id, "options": opts})
}

func (a *API) passkeyVerifyFinish(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if p.SessionHash == "" {
		a.fail(w, r, errNeedsBrowser)
		return
	}
	var req PasskeyFinish
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	u, err := a.user(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	step := "step_up"
	if p.MFAPending {
		step = "login"
	}
	as, err := a.cfg.Passkeys.FinishVerify(r.Context(), u, p.SessionHash, req.Ceremony, req.Credential)
	if err != nil {
		a.passkeyRefused(w, r, as, step, err)
		return
	}
	if p.MFAPending {
		method := "password+passkey"
		if p.LoginMethod != "" && p.LoginMethod != "password" {
			method = p.LoginMethod + "+passkey"
		}
		if !a.passkeySession(w, r, u, p.SessionHash, method, map[string]any{"mfa": "passkey", "credential": as.Credential.ID}) {
			return
		}
		writeJSON(w, http.StatusOK, meView{Username: u.Username, Role: u.Role})
		return
	}
	if err := a.record(r, "mfa.step_up", p.UserID, map[string]any{"method": "passkey", "credential": as.Credential.ID}); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Auth.StepUpWith(r.Context(), p.SessionHash, "passkey"); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "verified"})
}
