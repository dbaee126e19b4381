package httpapi

import (
	"errors"
	"net/http"
	"time"

	"porthole/broker/auth"
	"porthole/broker/breakglass"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// breakglassRoutes registers the break-glass API: the device's accounts,
// generating one (the only answer that ever carries its password), and
// revoking one.
func (a *API) breakglassRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/devices/{id}/breakglass", a.authed(auth.ViewDevices, a.listBreakGlass))
	m.HandleFunc("POST /api/devices/{id}/breakglass", a.onDevice(auth.BreakGlass, a.createBreakGlass))
	m.HandleFunc("POST /api/breakglass/{id}/revoke", a.authed("", a.revokeBreakGlass))
}

func (a *API) listBreakGlass(w http.ResponseWriter, r *http.Request) {
	gs, err := a.cfg.BreakGlass.List(r.Context(), r.PathValue("id"))
	if err != nil {
		a.failBreakGlass(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, gs)
}

func (a *API) createBreakGlass(w http.ResponseWriter, r *http.Request) {
	var req wire.BreakGlassRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if !a.steppedUp(w, r, r.PathValue("id"), stepUpBreakGlass) {
		return
	}
	created, err := a.cfg.BreakGlass.Create(r.Context(), breakglass.Request{DeviceID: r.PathValue("id"), Requester: principal(r).Username,
		SourceIP: clientIP(r), ExpiresAt: req.ExpiresAt, For: time.Duration(req.DurationSeconds) * time.Second,
		UseWithin: time.Duration(req.UseWithinMinutes) * time.Minute})
	if err != nil {
		a.failBreakGlass(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, created)
}

func (a *API) revokeBreakGlass(w http.ResponseWriter, r *http.Request) {
	// An unknown account has no device: only the role passes, and then
	// Revoke answers "not found".
	acct, err := a.cfg.Store.BreakGlassGrant(r.Context(), r.PathValue("id"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.fail(w, r, err)
		return
	}
	if _, ok := a.entitled(w, r, auth.BreakGlass, acct.DeviceID); !ok {
		return
	}
	g, err := a.cfg.BreakGlass.Revoke(r.Context(), r.PathValue("id"), principal(r).Username, clientIP(r))
	if err != nil {
		a.failBreakGlass(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

// failBreakGlass maps the break-glass errors, then the common ones.
func (a *API) failBreakGlass(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, breakglass.ErrBadExpiry):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case errors.Is(err, breakglass.ErrOffline), errors.Is(err, breakglass.ErrFinished), errors.Is(err, breakglass.ErrAgent):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	case errors.Is(err, breakglass.ErrNoAnswer):
		writeJSON(w, http.StatusGatewayTimeout, map[string]string{"error": err.Error()})
	default:
		a.fail(w, r, err)
	}
}
