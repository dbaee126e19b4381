package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"porthole/broker/access"
	"porthole/broker/auth"
	"porthole/broker/conns"
	"porthole/broker/store"
	"porthole/internal/wire"
)

func (a *API) recordAs(r *http.Request, username, action, target string, details map[string]any) error {
	return a.recordActor(r, "user:"+username, action, target, details)
}

func (a *API) recordActor(r *http.Request, actor, action, target string, details map[string]any) error {
	_, err := a.cfg.Audit.Append(r.Context(), auditEvent(actor, action, target, clientIP(r), details))
	return err
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if p.SessionHash != "" {
		if err := a.cfg.Auth.EndSession(r.Context(), p.SessionHash); err != nil {
			a.fail(w, r, err)
			return
		}
		// The session's websockets go with it (a viewer's session ends).
		a.cfg.Conns.Close(conns.BySession(p.SessionHash), "logged out")
	}
	_ = a.record(r, "logout", p.UserID, nil)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: a.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
}

type meView struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	writeJSON(w, http.StatusOK, meView{Username: p.Username, Role: string(p.Role)})
}

// DeviceView is a device as the portal and CLI see it.
type DeviceView struct {
	ID           string         `json:"id"`
	Hostname     string         `json:"hostname"`
	OS           string         `json:"os"`
	Arch         string         `json:"arch"`
	User         string         `json:"user"`
	AgentVersion string         `json:"agent_version"`
	Displays     []wire.Display `json:"displays"`
	EnrolledAt   time.Time      `json:"enrolled_at"`
	LastSeen     time.Time      `json:"last_seen"`
	Online       bool           `json:"online"`
	Revoked      bool           `json:"revoked"`
	// UnattendedPolicy is the endpoint's own policy for sessions without
	// consent ("deny", "allow"; "" = not reported by its agent).
	UnattendedPolicy string `json:"unattended_policy"`
	// CaptureMethod is how the endpoint's agent captures the screen
	// ("x11-shm", "dxgi", "gdi"; "" = not reported by its agent).
	CaptureMethod string `json:"capture_method"`
	// Rights are what the caller may do on the device, by role or by an
	// active access grant: the portal shows only those controls (the
	// broker checks again on every call).
	Rights []string `json:"rights"`
}

func (a *API) view(d store.Device, rights []string) DeviceView {
	return DeviceView{ID: d.ID, Hostname: d.Hostname, OS: d.OS, Arch: d.Arch, User: d.User, AgentVersion: d.AgentVersion,
		Displays: d.Displays, EnrolledAt: d.EnrolledAt, LastSeen: d.LastSeen, Online: a.cfg.Agents.Online(d.ID), Revoked: d.Revoked,
		Rights: rights, UnattendedPolicy: d.UnattendedPolicy, CaptureMethod: d.CaptureMethod}
}

// views builds the caller's views of ds: each with the caller's rights on
// the device, its role's (on every device, or on the groups the user is
// bound to; none for a technician under access.standing = none) plus those
// its active grants add on the device's group, all within a token's scopes.
func (a *API) views(r *http.Request, ds []store.Device) ([]DeviceView, error) {
	p := principal(r)
	var held []access.Grant
	if a.cfg.Access != nil {
		all, err := a.cfg.Access.Grants(r.Context())
		if err != nil {
			return nil, err
		}
		for _, g := range all {
			if g.User == p.Username {
				held = append(held, g)
			}
		}
	}
	out := make([]DeviceView, 0, len(ds))
	for _, d := range ds {
		group := ""
		if len(held) > 0 || p.GroupBound {
			var err error
			if group, err = a.cfg.Store.DeviceGroup(r.Context(), d.ID); err != nil {
				return nil, err
			}
		}
		may := []string{}
		for _, x := range rights {
			granted := group != "" && p.Scopes.Has(x.scope) &&
				slices.ContainsFunc(held, func(g access.Grant) bool { return g.Entitlement == x.entitlement && g.GroupID == group })
			if (x.perm != "" && p.CanOn(x.perm, group)) || granted {
				may = append(may, x.name)
			}
		}
		out = append(out, a.view(d, may))
	}
	return out, nil
}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request) {
	ds, err := a.cfg.Store.Devices(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.views(r, ds)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getDevice(w http.ResponseWriter, r *http.Request) {
	d, err := a.cfg.Store.Device(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.views(r, []store.Device{d})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out[0])
}

func (a *API) revokeDevice(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := a.cfg.Store.Device(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.record(r, "device.revoked", id, nil); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Store.RevokeDevice(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.cfg.Agents.Disconnect(id, "revoked")
	writeJSON(w, http.StatusOK, map[string]string{"status": "revoked"})
}

// TokenView is an enrollment token without its secret.
type TokenView struct {
	ID        string    `json:"id"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	MaxUses   int       `json:"max_uses"`
	Uses      int       `json:"uses"`
	Revoked   bool      `json:"revoked"`
	Note      string    `json:"note"`
	// Token is set only in the response that creates it.
	Token string `json:"token,omitempty"`
}

func tokenView(t store.EnrollToken) TokenView {
	return TokenView{ID: t.ID, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		MaxUses: t.MaxUses, Uses: t.Uses, Revoked: t.Revoked, Note: t.Note}
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := a.cfg.Store.EnrollTokens(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]TokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenView(t))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	var req wire.TokenRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	secret := "phe_" + auth.RandomToken(24)
	now := a.cfg.Clock.Now()
	t := store.EnrollToken{ID: auth.NewID(), Hash: auth.TokenHash(secret), CreatedBy: principal(r).Username, CreatedAt: now,
		ExpiresAt: now.Add(time.Duration(req.ExpiresInSeconds) * time.Second), MaxUses: req.MaxUses, Note: req.Note}
	if err := a.record(r, "enroll_token.created", t.ID, map[string]any{"max_uses": t.MaxUses, "expires_at": t.ExpiresAt}); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Store.CreateEnrollToken(r.Context(), t); err != nil {
		a.fail(w, r, err)
		return
	}
	v := tokenView(t)
	v.Token = secret
	writeJSON(w, http.StatusCreated, v)
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	// A token that does not exist is 404 and leaves no audit record.
	if _, err := a.cfg.Store.EnrollToken(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.record(r, "enroll_token.revoked", id, nil); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Store.RevokeEnrollToken(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "revoked"})
}

// enroll registers a new device with a one-time or multi-use token.
func (a *API) enroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	now := a.cfg.Clock.Now()
	// Reserved before the token is looked up, like a password: only an
	// unknown token stays counted (an expired or used-up one guessed nothing).
	at, wait := a.reserve(r.Context(), now, charge{}, a.addrCharge(r, "enroll:"))
	if wait > 0 {
		tooMany(w, wait)
		return
	}
	id := auth.NewID()
	secret, sealed, err := a.cfg.DeviceKeys.NewKey(id)
	if err != nil {
		a.settle(r.Context(), at.refund)
		a.fail(w, r, err)
		return
	}
	d := store.Device{ID: id, PublicKey: req.PublicKey, SecretSealed: sealed, Hostname: req.Inventory.Hostname,
		OS: req.Inventory.OS, Arch: req.Inventory.Arch, User: req.Inventory.User, Displays: req.Inventory.Displays, EnrolledAt: now,
		UnattendedPolicy: store.PolicyOf(req.Inventory), CaptureMethod: req.Inventory.Capture}
	tok, err := a.cfg.Store.Enroll(r.Context(), auth.TokenHash(req.Token), now, d)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		a.settle(r.Context(), at.refund)
	}
	if err != nil {
		a.log.Warn("enrollment refused", "remote_ip", clientIP(r), "hostname", req.Inventory.Hostname, "err", err)
		a.recordFailure(r, "device.enroll_failed", map[string]any{"hostname": req.Inventory.Hostname, "reason": err.Error()})
		if errors.Is(err, store.ErrNotFound) {
			err = errUnknownToken
		}
		a.enrollFail(w, r, err)
		return
	}
	if err := a.recordActor(r, "device:"+d.ID, "device.enrolled", d.ID, map[string]any{"hostname": d.Hostname, "token": tok.ID}); err != nil {
		a.log.Error("audit enrollment", "err", err)
	}
	a.log.Info("device enrolled", "device_id", d.ID, "hostname", d.Hostname)
	writeJSON(w, http.StatusCreated, wire.EnrollResponse{DeviceID: d.ID, DeviceSecret: secret})
}

var errUnknownToken = errors.New("enrollment token not recognised")

func (a *API) enrollFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errUnknownToken) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error()})
		return
	}
	a.fail(w, r, err)
}

// agentLink upgrades an agent's websocket. Agents are not browsers and never
// send an Origin; one that does is refused, so no web page can drive it.
// agentWriteBuffers is shared by every agent link's writes.
var agentWriteBuffers sync.Pool

func (a *API) agentLink(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "agent link does not accept browser origins"})
		return
	}
	up := a.up
	up.CheckOrigin = func(*http.Request) bool { return true }
	// Thousands of idle links (make load): a small read buffer, and a
	// write buffer only while writing.
	up.ReadBufferSize, up.WriteBufferSize, up.WriteBufferPool = 1024, 0, &agentWriteBuffers
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	// The link runs on its own goroutine so that this handler returns and
	// the HTTP server lets go of the request and its buffers (a hijacked
	// connection is not waited for at shutdown either way; the link ends
	// with a.cfg.Context). Serve closes ws.
	ip := clientIP(r)
	go func() {
		if err := a.cfg.Agents.Serve(a.cfg.Context, ws, ip); err != nil {
			a.log.Info("agent link ended", "remote_ip", ip, "err", err)
		}
	}()
}

// events streams live updates to a portal page.
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	ws, err := a.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	ctx, _, done := a.openConn(r, conns.Events)
	defer done()
	ch, cancel := a.cfg.Live.Subscribe()
	defer cancel()
	// Reader: notices the page going away; the page sends nothing.
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		ws.SetReadLimit(1024)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too slow"), time.Now().Add(time.Second))
				return
			}
			if !a.mayReceive(r, ev) {
				continue
			}
			_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := ws.WriteJSON(ev); err != nil {
				return
			}
		case <-ping.C:
			if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)); err != nil {
				return
			}
		case <-gone:
			return
		case <-ctx.Done():
			if why := conns.Reason(ctx); why != "" {
				closeWith(ws, why) // logged out, token revoked or user locked out
				return
			}
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "broker shutting down"), time.Now().Add(time.Second))
			<-gone
			return
		}
	}
}

// openConn registers the websocket r is upgrading (kind: conns.Events or
// conns.Signal) for the caller; its context ends at shutdown or when the
// caller's portal session, token or account is ended. done must be called.
func (a *API) openConn(r *http.Request, kind string) (context.Context, string, func()) {
	p := principal(r)
	ctx, id, done := a.cfg.Conns.Open(a.cfg.Context, kind, conns.Owner{UserID: p.UserID, SessionHash: p.SessionHash, TokenID: p.TokenID})
	// A lock-out between the request's check and the registration would
	// miss this websocket: check the caller once more now it is registered.
	if _, err := a.resolve(r); err != nil {
		a.cfg.Conns.Close(func(i conns.Info) bool { return i.ID == id }, "your access ended")
	}
	return ctx, id, done
}

// closeCodeRevoked is the websocket close code of a connection the broker
// ended because its caller's access ended (the page logs in again).
const closeCodeRevoked = 4001

// closeWith sends a close frame saying why the broker ended the websocket.
func closeWith(ws *websocket.Conn, why string) {
	if len(why) > 120 {
		why = why[:120] // a close frame's reason is at most 123 bytes
	}
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closeCodeRevoked, why), time.Now().Add(time.Second))
}
