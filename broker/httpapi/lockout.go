package httpapi

import (
	"math"
	"net/http"

	"porthole/broker/auth"
)

// lockoutRoutes registers an account's lockout state and the admin's
// unlock (ADR 0009).
func (a *API) lockoutRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/users/{id}/lock", a.authed(auth.ManageUsers, a.userLock))
	m.HandleFunc("POST /api/users/{id}/unlock", a.authed(auth.ManageUsers, a.userUnlock))
}

// lockView is an account's lockout: whether attempts on it from addresses
// it has not logged in from must wait, how long, and the failures counted.
type lockView struct {
	Locked     bool `json:"locked"`
	RetryAfter int  `json:"retry_after"` // seconds
	Failures   int  `json:"failures"`
}

// lockState reads the account's own counters (passwords and codes); the
// slowdowns of its known addresses are not a lockout.
func (a *API) lockState(userID string) lockView {
	now := a.cfg.Clock.Now()
	var v lockView
	for _, key := range []string{"login:" + userID, "mfa:" + userID} {
		wait, _ := a.cfg.MFA.Accounts.Check(key, now)
		v.RetryAfter = max(v.RetryAfter, int(math.Ceil(wait.Seconds())))
		v.Failures += a.cfg.MFA.Accounts.Failures(key, now)
	}
	v.Locked = v.RetryAfter > 0
	return v
}

func (a *API) userLock(w http.ResponseWriter, r *http.Request) {
	u, err := a.cfg.Store.UserByID(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.lockState(u.ID))
}

// userUnlock forgets every failure counted against the account, from
// anywhere (its own counters and its known addresses'), audited as
// user.unlocked with what was cleared. Address limits stay: they are the
// guessers', not the account's.
func (a *API) userUnlock(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, err := a.cfg.Store.UserByID(ctx, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	was := a.lockState(u.ID)
	// Audit first: an unlock that cannot be recorded does not happen.
	if err := a.record(r, "user.unlocked", u.ID, map[string]any{"username": u.Username, "was_locked": was.Locked,
		"failures": was.Failures}); err != nil {
		a.fail(w, r, err)
		return
	}
	m := a.cfg.MFA
	for _, kind := range []string{"login:", "mfa:"} {
		a.logLimiter(m.Accounts.Succeed(ctx, kind+u.ID))
		_, err := m.Known.ForgetPrefix(ctx, kind+u.ID+"@") // ids never hold "@"
		a.logLimiter(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "unlocked", "username": u.Username, "was_locked": was.Locked,
		"failures": was.Failures})
}
