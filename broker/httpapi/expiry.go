package httpapi

import (
	"errors"
	"net/http"

	"porthole/broker/sessions"
)

// extendSession gives the caller's own session another expiry period when
// settings allow (the session records the extension in the audit log).
func (a *API) extendSession(w http.ResponseWriter, r *http.Request) {
	s, ok := a.ownSession(w, r)
	if !ok {
		return
	}
	if _, err := s.Extend(r.Context(), principal(r).Username, clientIP(r)); err != nil {
		if errors.Is(err, sessions.ErrNotAllowedHere) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error()})
			return
		}
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.Snapshot())
}
