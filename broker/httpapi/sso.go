package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"porthole/broker/auth"
	"porthole/broker/settings"
	"porthole/broker/sso"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// ssoCookie binds an OIDC sign-in to the browser that started it: sent
// only to the callback, HttpOnly, SameSite=Lax (the IdP's redirect back is
// a cross-site top-level navigation, which Strict would strip), single-use
// and expiring with the flow. Login CSRF is refused because the callback's
// state must be the one this browser's cookie names (sso.Service.Finish).
const ssoCookie = "porthole_sso"

func (a *API) ssoRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/sso/providers", a.ssoProviders)
	m.HandleFunc("GET /api/sso/{provider}/login", a.ssoLogin)
	m.HandleFunc("GET /api/sso/callback", a.ssoCallback)
	m.HandleFunc("POST /api/sso/stepup", a.authed("", a.ssoStepUp))
}

// ssoProviders lists the providers for the login page (public).
func (a *API) ssoProviders(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.cfg.SSO.Providers())
}

func (a *API) setFlowCookie(w http.ResponseWriter, value string) {
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: value, Path: "/api/sso/callback", HttpOnly: true,
		Secure: a.cfg.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: int(sso.FlowTTL.Seconds())})
}

// ssoLogin starts a portal sign-in at a provider: it sets the flow cookie
// and sends the browser to the provider.
func (a *API) ssoLogin(w http.ResponseWriter, r *http.Request) {
	purpose, ref := sso.PurposeLogin, ""
	if id := r.URL.Query().Get("cli"); id != "" {
		if !a.cfg.CLISSO.exists(id, a.cfg.Clock.Now()) {
			a.ssoRedirect(w, r, "#/login", errors.New("this command-line sign-in expired: run porthole login --sso again"))
			return
		}
		purpose, ref = sso.PurposeCLI, id
	}
	authURL, cookie, err := a.cfg.SSO.Begin(r.Context(), r.PathValue("provider"), purpose, "", ref)
	if err != nil {
		a.ssoRedirect(w, r, "#/login", err)
		return
	}
	a.setFlowCookie(w, cookie)
	http.Redirect(w, r, authURL, http.StatusSeeOther)
}

// SSOStepUpRequest asks for a fresh IdP sign-in; Return is the portal
// page to come back to.
type SSOStepUpRequest struct {
	Return string `json:"return,omitempty"`
}

var portalHash = regexp.MustCompile(`^#/[A-Za-z0-9/_-]{0,200}$`)

// Validate bounds the return page to a portal route.
func (s *SSOStepUpRequest) Validate() error {
	if s.Return != "" && !portalHash.MatchString(s.Return) {
		return fmt.Errorf("%w: return must be a portal page (#/…)", wire.ErrInvalid)
	}
	return nil
}

// ssoStepUp starts a fresh sign-in (prompt=login, max_age=0) at the
// provider the user signs in with; the callback records it on this
// session as a step-up. The answer's url is where the page goes.
func (a *API) ssoStepUp(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if p.SessionHash == "" {
		a.fail(w, r, errNeedsBrowser)
		return
	}
	var req SSOStepUpRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	provider, err := a.ssoProviderOf(r, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	back := req.Return
	if back == "" {
		back = "#/account"
	}
	authURL, cookie, err := a.cfg.SSO.Begin(r.Context(), provider, sso.PurposeStepUp, p.UserID, p.SessionHash+" "+back)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.setFlowCookie(w, cookie)
	writeJSON(w, http.StatusOK, map[string]string{"url": authURL})
}

var errNoIdP = errors.New("this account does not sign in at an identity provider")

// ssoProviderOf is the provider a user signs in with: the one of this
// session's login, else the first configured one the user is linked to.
func (a *API) ssoProviderOf(r *http.Request, p auth.Principal) (string, error) {
	if id, ok := strings.CutPrefix(p.LoginMethod, "sso:"); ok {
		if _, ok := a.cfg.SSO.Provider(id); ok {
			return id, nil
		}
	}
	ids, err := a.cfg.Store.UserIdentities(r.Context(), p.UserID)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if _, ok := a.cfg.SSO.Provider(id.Provider); ok {
			return id.Provider, nil
		}
	}
	return "", errNoIdP
}

// ssoCallback is where providers send the browser back. The flow cookie
// is cleared whatever happens (a flow serves one callback).
func (a *API) ssoCallback(w http.ResponseWriter, r *http.Request) {
	var cookie string
	if c, err := r.Cookie(ssoCookie); err == nil {
		cookie = c.Value
	}
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: "", Path: "/api/sso/callback", MaxAge: -1, HttpOnly: true,
		Secure: a.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	cb, err := sso.ParseCallback(r.URL.Query())
	if err != nil {
		a.ssoRefused(w, r, sso.Identity{}, err)
		return
	}
	id, err := a.cfg.SSO.Finish(r.Context(), cookie, cb)
	if err != nil {
		a.ssoRefused(w, r, id, err)
		return
	}
	switch id.Purpose {
	case sso.PurposeStepUp:
		a.ssoStepUpDone(w, r, id)
	default:
		a.ssoSignedIn(w, r, id)
	}
}

// refusalReason names a failed sign-in for the audit log.
func refusalReason(err error) string {
	var rf *sso.Refusal
	switch {
	case errors.As(err, &rf):
		return rf.Reason
	case errors.Is(err, sso.ErrNoFlow):
		return "no_flow"
	case errors.Is(err, sso.ErrState):
		return "state_mismatch"
	case errors.Is(err, sso.ErrToken):
		return "token_invalid"
	case errors.Is(err, sso.ErrIdP):
		return "idp_error"
	case errors.Is(err, sso.ErrUnknownProvider):
		return "unknown_provider"
	case errors.Is(err, sso.ErrRefused):
		return "refused"
	}
	return "error"
}

// ssoRefused audits a refused sign-in (login.refused, with what the IdP
// said about who it was) and sends the browser to the login page (or, for
// a step-up, back to the page it came from) with the reason.
func (a *API) ssoRefused(w http.ResponseWriter, r *http.Request, id sso.Identity, err error) {
	d := map[string]any{"reason": refusalReason(err), "error": err.Error(), "purpose": string(id.Purpose)}
	if id.Provider != "" {
		d["provider"] = id.Provider
	}
	if id.Subject != "" {
		d["issuer"], d["subject"], d["username"], d["idp_groups"] = id.Issuer, id.Subject, id.Username, orEmpty(id.Groups)
	}
	var rf *sso.Refusal
	target := id.UserID
	if errors.As(err, &rf) && rf.UserID != "" {
		target = rf.UserID
	}
	if id.Provider == "" {
		// No sign-in of this browser: anyone can call the callback URL, so
		// these are summed per address like other unauthenticated failures.
		a.recordFailure(r, "login.refused", d)
	} else if aerr := a.recordActor(r, "sso:"+id.Provider, "login.refused", target, d); aerr != nil {
		a.log.Error("audit sign-in refusal", "err", aerr)
	}
	back := "#/login"
	if id.Purpose == sso.PurposeStepUp {
		if _, b, ok := strings.Cut(id.Ref, " "); ok {
			back = b
		}
	}
	a.ssoRedirect(w, r, back, err)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ssoRedirect sends the browser to a portal page with a message to show.
func (a *API) ssoRedirect(w http.ResponseWriter, r *http.Request, hash string, err error) {
	msg := err.Error()
	switch {
	case errors.Is(err, sso.ErrRefused), errors.Is(err, sso.ErrUnknownProvider), errors.Is(err, sso.ErrBusy):
	case errors.Is(err, sso.ErrToken):
		msg = sso.ErrToken.Error()
	case errors.Is(err, sso.ErrIdP):
		msg = sso.ErrIdP.Error()
	case errors.Is(err, sso.ErrNoFlow):
		msg = sso.ErrNoFlow.Error()
	case errors.Is(err, sso.ErrState):
		msg = sso.ErrState.Error()
	default:
		msg = "sign-in failed"
		a.log.Error("sso sign-in failed", "err", err)
	}
	http.Redirect(w, r, "/?sso_error="+url.QueryEscape(msg)+hash, http.StatusSeeOther)
}

// ssoSignedIn provisions the identity's user (created just in time; role
// and bindings from the IdP groups, audited when they change), then starts
// a portal session — or, for the CLI, hands the sign-in to it.
func (a *API) ssoSignedIn(w http.ResponseWriter, r *http.Request, id sso.Identity) {
	ctx := r.Context()
	cfg, _ := a.cfg.SSO.Provider(id.Provider)
	u, out, err := a.cfg.Provision.Provision(ctx, cfg, id, clientIP(r))
	if err != nil {
		a.ssoRefused(w, r, id, err)
		return
	}
	pending, err := a.needsPhishingResistant(r, u, id.PhishingResistant)
	if err != nil {
		a.ssoRefused(w, r, id, err)
		return
	}
	details := map[string]any{"via": "sso", "provider": id.Provider, "issuer": id.Issuer, "subject": id.Subject,
		"idp_groups": out.Mapping.Matched, "amr": orEmpty(id.AMR), "created": out.Created, "role_changed": out.RoleChanged}
	if id.Purpose == sso.PurposeCLI {
		details["via"] = "cli-sso"
		if err := a.recordAs(r, u.Username, "login.ok", u.ID, details); err != nil {
			a.ssoRefused(w, r, id, err)
			return
		}
		a.cliSSODone(w, r, id, u)
		return
	}
	action := "login.ok"
	if pending {
		action, details["mfa"] = "login.password_ok", "passkey"
	}
	if err := a.recordAs(r, u.Username, action, u.ID, details); err != nil {
		a.ssoRefused(w, r, id, err)
		return
	}
	spec := auth.SessionSpec{LoginMethod: "sso:" + id.Provider, MFAAt: id.AuthTime, MFAMethod: "idp"}
	if pending {
		spec = auth.SessionSpec{LoginMethod: "sso:" + id.Provider, Pending: true, PendingFactor: "passkey"}
	}
	secret, err := a.cfg.Auth.StartSessionAs(ctx, u.ID, spec)
	if err != nil {
		a.ssoRefused(w, r, id, err)
		return
	}
	if !pending {
		a.loggedIn(r, u.ID)
	}
	a.setSessionCookie(w, secret)
	http.Redirect(w, r, "/#/devices", http.StatusSeeOther)
}

// ssoStepUpDone records a fresh IdP sign-in as a step-up on the session
// that asked for it, if it is that session's user.
func (a *API) ssoStepUpDone(w http.ResponseWriter, r *http.Request, id sso.Identity) {
	sessionHash, back, _ := strings.Cut(id.Ref, " ")
	link, err := a.cfg.Store.Identity(r.Context(), id.Issuer, id.Subject)
	if errors.Is(err, store.ErrNotFound) || (err == nil && link.UserID != id.UserID) {
		err = &sso.Refusal{Reason: "identity_mismatch", UserID: id.UserID,
			Message: "you signed in at the identity provider as someone else: sign in there as yourself"}
	}
	if err != nil {
		a.ssoRefused(w, r, id, err)
		return
	}
	u, err := a.cfg.Store.UserByID(r.Context(), id.UserID)
	if err == nil {
		err = a.recordAs(r, u.Username, "mfa.step_up", u.ID, map[string]any{"method": "idp", "provider": id.Provider,
			"phishing_resistant": id.PhishingResistant})
	}
	if err == nil {
		method := "idp"
		if id.PhishingResistant {
			method = "idp-phr"
		}
		err = a.cfg.Auth.StepUpWith(r.Context(), sessionHash, method)
	}
	if err != nil {
		a.ssoRefused(w, r, id, err)
		return
	}
	http.Redirect(w, r, "/"+back, http.StatusSeeOther)
}

// needsPhishingResistant says whether u's role needs a phishing-resistant
// factor that this login (phr: it had one) did not give: the session is
// then pending until a passkey is used (or registered).
func (a *API) needsPhishingResistant(r *http.Request, u store.User, phr bool) (bool, error) {
	if phr || a.cfg.Settings == nil {
		return false, nil
	}
	v, err := a.cfg.Settings.Effective(r.Context(), "", settings.PhishingResistantRoles)
	if err != nil {
		return false, err
	}
	return slices.Contains(settings.List(v.Value), u.Role), nil
}
