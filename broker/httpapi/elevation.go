package httpapi

import (
	"context"
	"errors"
	"net/http"

	"porthole/broker/auth"
	"porthole/broker/elevation"
	"porthole/internal/wire"
)

// elevationRoutes registers temporary admin codes and elevation records.
func (a *API) elevationRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /api/devices/{id}/elevation-codes", a.onDevice(auth.IssueElevationCode, a.issueElevationCode))
	m.HandleFunc("GET /api/devices/{id}/elevations", a.authed(auth.ViewElevations, a.listElevations))
}

// settingChanged sends connected agents their new elevation policy.
func (a *API) settingChanged(ctx context.Context, scope, key string) {
	if a.cfg.Elevation != nil {
		a.cfg.Elevation.SettingChanged(ctx, scope, key)
	}
}

// issueElevationCode returns a code once; the service audits it (nonce and
// issue window, never the code).
func (a *API) issueElevationCode(w http.ResponseWriter, r *http.Request) {
	var req wire.ElevationCodeRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if !a.steppedUp(w, r, r.PathValue("id"), stepUpCode) {
		return
	}
	c, err := a.cfg.Elevation.Issue(r.Context(), "user:"+principal(r).Username, clientIP(r), r.PathValue("id"), req)
	a.elevationResult(w, r, c, err)
}

// elevationResult answers v (201 Created) or maps the error.
func (a *API) elevationResult(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		a.failElevation(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

// failElevation maps the elevation errors (of issued codes and of approved
// elevation requests) to their status.
func (a *API) failElevation(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, elevation.ErrTooLong):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case errors.Is(err, elevation.ErrRevoked), errors.Is(err, elevation.ErrOffline):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	default:
		a.fail(w, r, err)
	}
}

// listElevations lists a device's elevation sessions with their processes.
func (a *API) listElevations(w http.ResponseWriter, r *http.Request) {
	ss, err := a.cfg.Elevation.Sessions(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ss)
}
