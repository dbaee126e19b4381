// Package httpapi is the broker's HTTP surface: the JSON API for the portal
// and the CLI, agent enrollment, the agent and browser websockets, and the
// embedded portal itself. Authentication, role checks, CSRF/Origin checks,
// security headers and the mapping of errors to HTTP statuses live here and
// nowhere else.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"porthole/broker/access"
	"porthole/broker/agents"
	"porthole/broker/archive"
	"porthole/broker/audit"
	"porthole/broker/auth"
	"porthole/broker/breakglass"
	"porthole/broker/conns"
	"porthole/broker/devicekey"
	"porthole/broker/elevation"
	"porthole/broker/lifecycle"
	"porthole/broker/live"
	"porthole/broker/mfa"
	"porthole/broker/passkey"
	"porthole/broker/recording"
	"porthole/broker/requests"
	"porthole/broker/sessions"
	"porthole/broker/settings"
	"porthole/broker/sso"
	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

// CookieName is the portal session cookie.
const CookieName = "porthole_session"

// Config wires the API.
type Config struct {
	Store    *store.Store
	Auth     *auth.Authenticator
	Audit    *audit.Log
	Agents   *agents.Hub
	Live     *live.Hub
	Sessions *sessions.Manager
	Settings *settings.Settings
	MFA      *MFA // second factor and brute-force limiters (limiters defaulted when nil)
	// Elevation issues temporary admin codes and lists elevation records.
	Elevation *elevation.Service
	Portal    http.Handler // the embedded web client
	Clock     clock.Clock
	Logger    *slog.Logger
	// SecureCookies marks cookies Secure and sends HSTS (set when serving TLS).
	SecureCookies bool
	// Context ends long-lived websockets at shutdown.
	Context context.Context
	// Conns tracks the open portal and API websockets so that a logout,
	// a revoked token or a locked-out user closes them (default: a new one).
	Conns *conns.Registry
	// Lifecycle changes users and runs the kill switch (users.go).
	Lifecycle *lifecycle.Service
	// Recordings and Archive serve and verify session recordings.
	Recordings *recording.Store
	Archive    *archive.Archive
	// BreakGlass creates and revokes temporary local administrators.
	BreakGlass *breakglass.Service
	// Requests is the approvals queue.
	Requests *requests.Manager
	// SettingsPush sends changed settings to the connected agents they cover.
	SettingsPush *settings.Pusher
	// Access runs entitlements and access requests.
	Access *access.Service
	// Failures coalesces the audit records of unauthenticated failures
	// (enrollment) per source address; nil writes each one.
	Failures *audit.Coalescer
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client; from anyone else the header is ignored.
	TrustedProxies []netip.Prefix
	// DeviceKeys seals new devices' elevation-code keys and rotates them.
	DeviceKeys *devicekey.Service
	// SSO runs OIDC sign-ins (nil: none configured) and Provision turns
	// their identities into users; CLISSO holds the CLI's sign-ins
	// (default: a new one).
	SSO       *sso.Service
	Provision *sso.Provisioner
	CLISSO    *CLISSO
	// Passkeys runs WebAuthn ceremonies (nil: passkeys unavailable).
	Passkeys *passkey.Service
}

// API serves HTTP.
type API struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	up  websocket.Upgrader

	replays replays
}

// New builds the handler tree.
func New(cfg Config) *API {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.Conns == nil {
		cfg.Conns = conns.New()
	}
	cfg.MFA = cfg.MFA.withDefaults()
	if cfg.CLISSO == nil {
		cfg.CLISSO = &CLISSO{}
	}
	if cfg.CLISSO.m == nil {
		cfg.CLISSO.m = map[string]*cliSignIn{}
	}
	a := &API{cfg: cfg, log: cfg.Logger.With("component", "httpapi"), mux: http.NewServeMux()}
	a.up = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, CheckOrigin: sameOrigin}
	a.routes()
	return a
}

func (a *API) routes() {
	m := a.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	m.HandleFunc("POST /api/login", a.login)
	m.HandleFunc("POST /api/cli/login", a.cliLogin)
	m.HandleFunc("POST /api/logout", a.mfaAuthed(a.logout)) // pending-MFA sessions may log out too
	a.mfaRoutes(m)
	a.ssoRoutes(m)     // sso.go: OIDC sign-in and step-up
	a.cliSSORoutes(m)  // clisso.go: porthole login --sso
	a.passkeyRoutes(m) // passkeys.go: WebAuthn
	m.HandleFunc("GET /api/me", a.authed("", a.me))
	m.HandleFunc("GET /api/devices", a.authed(auth.ViewDevices, a.listDevices))
	m.HandleFunc("GET /api/devices/{id}", a.authed(auth.ViewDevices, a.getDevice))
	m.HandleFunc("POST /api/devices/{id}/revoke", a.authed(auth.ManageDevices, a.revokeDevice))
	m.HandleFunc("POST /api/devices/{id}/rotate-key", a.authed(auth.ManageDevices, a.rotateDeviceKey)) // devicekeys.go
	m.HandleFunc("GET /api/enroll-tokens", a.authed(auth.Enroll, a.listTokens))
	m.HandleFunc("POST /api/enroll-tokens", a.authed(auth.Enroll, a.createToken))
	m.HandleFunc("POST /api/enroll-tokens/{id}/revoke", a.authed(auth.Enroll, a.revokeToken))
	a.userRoutes(m)     // users.go: the user lifecycle
	a.lockoutRoutes(m)  // lockout.go: account lockout and unlock
	a.apiTokenRoutes(m) // apitokens.go: API tokens and their scopes
	m.HandleFunc("GET /api/audit", a.authed(auth.ViewAudit, a.listAudit))
	a.auditRoutes(m)     // export, verify, session extend (audit.go, expiry.go)
	a.recordingRoutes(m) // recordings.go
	m.HandleFunc("GET /api/events", a.authed("", a.events))
	m.HandleFunc("POST /api/sessions", a.authed("", a.startSession)) // role or grant: checked once the device is known
	m.HandleFunc("GET /api/sessions", a.authed(auth.ViewDevices, a.listSessions))
	m.HandleFunc("GET /api/sessions/{id}", a.authed(auth.ViewDevices, a.getSession))
	m.HandleFunc("POST /api/sessions/{id}/end", a.authed("", a.endSession))
	m.HandleFunc("POST /api/sessions/{id}/view-only", a.authed("", a.sessionViewOnly))
	m.HandleFunc("POST /api/sessions/{id}/display", a.authed("", a.sessionDisplay))
	m.HandleFunc("GET /api/sessions/{id}/signal", a.authed("", a.signal))
	m.HandleFunc("GET /api/settings", a.authed(auth.ViewDevices, a.getSettings))
	m.HandleFunc("PUT /api/settings/{key}", a.authed(auth.ManageSettings, a.putSetting))
	a.elevationRoutes(m)  // elevation.go
	a.breakglassRoutes(m) // breakglass.go
	a.requestRoutes(m)    // groups, requests queue, settings registry and clearing (requests.go)
	a.accessRoutes(m)     // entitlements and access requests (access.go)
	m.HandleFunc("POST /api/agent/enroll", a.enroll)
	m.HandleFunc("GET /api/agent/ws", a.agentLink)
	if a.cfg.Portal != nil {
		m.Handle("/", a.cfg.Portal)
	}
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such API endpoint"})
	})
}

// ServeHTTP applies the headers and checks common to every request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "+
		"media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Cache-Control", "no-store")
	}
	if a.cfg.SecureCookies {
		h.Set("Strict-Transport-Security", hstsMaxAge)
	}
	a.forwardedClient(r)
	crossOrigin.Handler(http.HandlerFunc(a.route)).ServeHTTP(w, r)
}

// route refuses non-JSON bodies (after the cross-origin check) and routes.
func (a *API) route(w http.ResponseWriter, r *http.Request) {
	if !jsonBodyOnly(w, r) {
		return
	}
	a.mux.ServeHTTP(w, r)
}

// crossOrigin refuses state-changing requests that a browser marks as
// cross-site (Sec-Fetch-Site / Origin vs Host). Non-browser clients (agent,
// CLI) send neither header and pass; they authenticate by key or token.
var crossOrigin = func() *http.CrossOriginProtection {
	c := http.NewCrossOriginProtection()
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-origin request refused"})
	}))
	return c
}()

// sameOrigin is the websocket Origin check: browsers must send an Origin
// whose host is the one they connected to.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	i := strings.Index(o, "://")
	return i > 0 && strings.EqualFold(o[i+3:], r.Host)
}

type ctxKey struct{}

// principal returns the caller set by authed.
func principal(r *http.Request) auth.Principal {
	p, _ := r.Context().Value(ctxKey{}).(auth.Principal)
	return p
}

var errForbidden = errors.New("your role does not allow this")

// authed resolves the caller from the session cookie or a bearer token and
// checks perm (empty = any logged-in user). Deny by default: a session
// still waiting for its second factor gets nothing here (only the routes
// wrapped by mfaAuthed), and every refusal of a role is audited.
func (a *API) authed(perm auth.Permission, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.resolve(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if p.MFAPending {
			a.fail(w, r, errMFAPending)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
		if !a.scopeAllows(w, r, perm) {
			return
		}
		if perm != "" && !p.Can(perm) {
			a.forbid(w, r, "", perm)
			return
		}
		next(w, r)
	}
}

// forbid answers 403 and audits the refusal (access.denied) of perm to the
// caller, on target if the check was about one.
func (a *API) forbid(w http.ResponseWriter, r *http.Request, target string, perm auth.Permission) {
	a.refuse(w, r, target, perm, errForbidden)
}

// refuse is forbid with the reason to show (an error wrapping errForbidden).
func (a *API) refuse(w http.ResponseWriter, r *http.Request, target string, perm auth.Permission, why error) {
	if err := a.record(r, "access.denied", target, map[string]any{"method": r.Method, "path": r.URL.Path,
		"role": string(principal(r).Role), "permission": string(perm)}); err != nil {
		a.log.Error("audit access denied", "err", err)
	}
	a.fail(w, r, why)
}

// resolve finds the caller of a request: a bearer token, else the session
// cookie.
func (a *API) resolve(r *http.Request) (auth.Principal, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return a.cfg.Auth.Token(r.Context(), tok, clientIP(r))
	}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return auth.Principal{}, auth.ErrNoSession
	}
	return a.cfg.Auth.Session(r.Context(), c.Value)
}

// fail maps an error to a status and a message safe to show. Internal
// errors are logged with detail and answered generically.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	if writeScopeError(w, err) {
		return
	}
	status, msg := http.StatusInternalServerError, "internal error"
	if st, m, ok := usersStatus(err); ok {
		status, msg = st, m
	}
	if st, m, ok := recordingStatus(err); ok {
		status, msg = st, m
	}
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		status, msg = http.StatusUnauthorized, "invalid username or password"
	case errors.Is(err, auth.ErrBusy):
		w.Header().Set("Retry-After", strconv.Itoa(int(auth.BusyRetry/time.Second)))
		status, msg = http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, auth.ErrExpired):
		status, msg = http.StatusUnauthorized, "session expired, log in again"
	case errors.Is(err, auth.ErrNoSession):
		status, msg = http.StatusUnauthorized, "not logged in"
	case errors.Is(err, errForbidden):
		status, msg = http.StatusForbidden, err.Error()
	case errors.Is(err, errMFAPending):
		status, msg = http.StatusUnauthorized, err.Error()
	case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrReplayed):
		status, msg = http.StatusUnauthorized, "invalid authentication code"
	case errors.Is(err, mfa.ErrNotEnrolled), errors.Is(err, mfa.ErrAlreadyEnrolled), errors.Is(err, errNotPending),
		errors.Is(err, errNoEnrollment):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, errNeedsBrowser), errors.Is(err, errEnrollFirst):
		status, msg = http.StatusForbidden, err.Error()
	case errors.Is(err, passkey.ErrNoCeremony), errors.Is(err, passkey.ErrFailed), errors.Is(err, passkey.ErrUnknown),
		errors.Is(err, passkey.ErrCloned):
		status, msg = http.StatusUnauthorized, err.Error()
		if errors.Is(err, passkey.ErrUnknown) {
			msg = passkey.ErrUnknown.Error()
		} else if errors.Is(err, passkey.ErrFailed) {
			msg = passkey.ErrFailed.Error()
		}
	case errors.Is(err, passkey.ErrDisabled):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, passkey.ErrBusy):
		status, msg = http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, errSSOOnly), errors.Is(err, errPasskeyCLI), errors.Is(err, errPasskeyOwed):
		status, msg = http.StatusForbidden, err.Error()
	case errors.Is(err, sso.ErrUnknownProvider):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, sso.ErrBusy):
		status, msg = http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, sso.ErrIdP):
		status, msg = http.StatusBadGateway, err.Error()
	case errors.Is(err, errLocalLoginOff):
		status, msg = http.StatusForbidden, err.Error()
	case errors.Is(err, errNoIdP):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, store.ErrConflict):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, store.ErrGroupHasEntitlements), errors.Is(err, store.ErrGroupChanged):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, store.ErrTokenExpired), errors.Is(err, store.ErrTokenUsedUp), errors.Is(err, store.ErrTokenRevoked):
		status, msg = http.StatusForbidden, err.Error()
	case errors.Is(err, sessions.ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, sessions.ErrBusy), errors.Is(err, sessions.ErrOffline), errors.Is(err, sessions.ErrState),
		errors.Is(err, sessions.ErrEnded), errors.Is(err, sessions.ErrRevoked):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, sessions.ErrNotAllowed):
		status, msg = http.StatusForbidden, err.Error()
	case errors.Is(err, settings.ErrUnknownKey), errors.Is(err, settings.ErrBadValue), errors.Is(err, settings.ErrBadScope):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, requests.ErrNotAllowed), errors.Is(err, requests.ErrUnsupported):
		status, msg = http.StatusForbidden, err.Error()
	case errors.Is(err, requests.ErrPending), errors.Is(err, store.ErrNotPending):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, requests.ErrComment):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, wire.ErrTooLarge):
		status, msg = http.StatusRequestEntityTooLarge, "request body too large"
	case errors.Is(err, wire.ErrMalformed), errors.Is(err, wire.ErrInvalid):
		status, msg = http.StatusBadRequest, err.Error()
	}
	if status == http.StatusInternalServerError {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// record writes an audit event for a privileged action; the caller must not
// proceed (or must report failure) when it returns an error.
func (a *API) record(r *http.Request, action, target string, details map[string]any) error {
	actor := "anonymous"
	if p := principal(r); p.Username != "" {
		actor = "user:" + p.Username
	}
	return a.recordActor(r, actor, action, target, details)
}

const maxBody = 64 << 10

func auditEvent(actor, action, target, ip string, details map[string]any) audit.Event {
	return audit.Event{Actor: actor, Action: action, Target: target, SourceIP: ip, Details: details}
}
