package httpapi

import (
	"errors"
	"net/http"

	"porthole/broker/auth"
	"porthole/broker/elevation"
	"porthole/internal/wire"
)

// elevationRoutes registers temporary admin codes and elevation records.
func (a *API) elevationRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /api/devices/{id}/elevation-codes", a.authed(auth.IssueElevationCode, a.issueElevationCode))
	m.HandleFunc("GET /api/devices/{id}/elevations", a.authed(auth.ViewElevations, a.listElevations))
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
	switch {
	case errors.Is(err, elevation.ErrTooLong):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case errors.Is(err, elevation.ErrRevoked):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	case err != nil:
		a.fail(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, c)
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
