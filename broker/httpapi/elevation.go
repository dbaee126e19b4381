package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"porthole/broker/auth"
	"porthole/broker/elevation"
	"porthole/internal/wire"
)

// elevationRoutes registers temporary admin codes and elevation records.
func (a *API) elevationRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /api/devices/{id}/elevation-codes", a.authed(auth.IssueElevationCode, a.issueElevationCode))
	m.HandleFunc("GET /api/devices/{id}/elevations", a.authed(auth.ViewElevations, a.listElevations))
	m.HandleFunc("GET /api/elevation-requests", a.authed(auth.DecideElevationRequest, a.listElevationRequests))
	m.HandleFunc("POST /api/elevation-requests/{id}/approve", a.authed(auth.DecideElevationRequest, a.decideElevationRequest))
	m.HandleFunc("POST /api/elevation-requests/{id}/deny", a.authed(auth.DecideElevationRequest, a.decideElevationRequest))
}

// settingChanged sends connected agents their new elevation policy.
func (a *API) settingChanged(ctx context.Context, scope, key string) {
	if a.cfg.Elevation != nil {
		a.cfg.Elevation.SettingChanged(ctx, scope, key)
	}
}

func (a *API) listElevationRequests(w http.ResponseWriter, r *http.Request) {
	rs, err := a.cfg.Elevation.Requests(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rs)
}

// decideElevationRequest approves (a code goes to the agent) or denies.
func (a *API) decideElevationRequest(w http.ResponseWriter, r *http.Request) {
	var dec wire.ElevationDecision
	if err := wire.DecodeJSON(r.Body, maxBody, &dec); err != nil {
		a.fail(w, r, err)
		return
	}
	decide := a.cfg.Elevation.Deny
	if strings.HasSuffix(r.URL.Path, "/approve") {
		decide = a.cfg.Elevation.Approve
	}
	req, err := decide(r.Context(), "user:"+principal(r).Username, clientIP(r), r.PathValue("id"), dec)
	if errors.Is(err, elevation.ErrOffline) {
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	a.elevationResult(w, r, req, err)
}

// issueElevationCode returns a code once; the service audits it (nonce and
// issue window, never the code).
func (a *API) issueElevationCode(w http.ResponseWriter, r *http.Request) {
	var req wire.ElevationCodeRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.cfg.Elevation.Issue(r.Context(), "user:"+principal(r).Username, clientIP(r), r.PathValue("id"), req)
	a.elevationResult(w, r, c, err)
}

// elevationResult answers v (201 Created) or maps the error.
func (a *API) elevationResult(w http.ResponseWriter, r *http.Request, v any, err error) {
	switch {
	case errors.Is(err, elevation.ErrTooLong):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case errors.Is(err, elevation.ErrRevoked):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	case err != nil:
		a.fail(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, v)
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
