package httpapi

import (
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"porthole/broker/access"
	"porthole/broker/auth"
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
	// Rights are what the caller may do on the device, by role or by an
	// active access grant: the portal shows only those controls (the
	// broker checks again on every call).
	Rights []string `json:"rights"`
}

func (a *API) view(d store.Device, rights []string) DeviceView {
	return DeviceView{ID: d.ID, Hostname: d.Hostname, OS: d.OS, Arch: d.Arch, User: d.User, AgentVersion: d.AgentVersion,
		Displays: d.Displays, EnrolledAt: d.EnrolledAt, LastSeen: d.LastSeen, Online: a.cfg.Agents.Online(d.ID), Revoked: d.Revoked,
		Rights: rights}
}

// views builds the caller's views of ds: each with the caller's rights on
// the device, its role's plus those its active grants add on the device's group.
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
		if len(held) > 0 {
			var err error
			if group, err = a.cfg.Store.DeviceGroup(r.Context(), d.ID); err != nil {
				return nil, err
			}
		}
		may := []string{}
		for _, x := range rights {
			granted := group != "" && slices.ContainsFunc(held, func(g access.Grant) bool { return g.Entitlement == x.entitlement && g.GroupID == group })
			if (x.perm != "" && p.Can(x.perm)) || granted {
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

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := a.cfg.Store.Users(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(us))
	for _, u := range us {
		out = append(out, map[string]any{"id": u.ID, "username": u.Username, "role": u.Role, "created_at": u.CreatedAt, "disabled": u.Disabled})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req wire.UserRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	pw := auth.NewPassword()
	hash, err := auth.HashPassword(pw)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	u := store.User{ID: auth.NewID(), Username: req.Username, PasswordHash: hash, Role: req.Role, CreatedAt: a.cfg.Clock.Now()}
	if _, err := a.cfg.Store.UserByName(r.Context(), u.Username); err == nil {
		a.fail(w, r, store.ErrConflict)
		return
	}
	if err := a.record(r, "user.created", u.ID, map[string]any{"username": u.Username, "role": u.Role}); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Store.CreateUser(r.Context(), u); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": u.ID, "username": u.Username, "role": u.Role, "password": pw})
}

// enroll registers a new device with a one-time or multi-use token.
func (a *API) enroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		a.fail(w, r, err)
		return
	}
	now := a.cfg.Clock.Now()
	d := store.Device{ID: auth.NewID(), PublicKey: req.PublicKey, Secret: secret, Hostname: req.Inventory.Hostname,
		OS: req.Inventory.OS, Arch: req.Inventory.Arch, User: req.Inventory.User, Displays: req.Inventory.Displays, EnrolledAt: now}
	tok, err := a.cfg.Store.Enroll(r.Context(), auth.TokenHash(req.Token), now, d)
	if err != nil {
		a.log.Warn("enrollment refused", "remote_ip", clientIP(r), "hostname", req.Inventory.Hostname, "err", err)
		_ = a.recordActor(r, "anonymous", "device.enroll_failed", "", map[string]any{"hostname": req.Inventory.Hostname, "reason": err.Error()})
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
		case <-a.cfg.Context.Done():
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "broker shutting down"), time.Now().Add(time.Second))
			<-gone
			return
		}
	}
}
