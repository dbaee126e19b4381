package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"porthole/broker/auth"
)

// noScope marks a route an API token may call whatever its scopes: the
// caller's own identity and second factor, and logging out. (The MFA
// routes that change something need a browser session anyway.)
var noScope = []string{}

// routeScopes are the scopes of the routes that check no role permission
// at the door ("any logged-in user"; the handler checks the role or a
// grant once it knows the device). A token needs one of them. A route
// with a permission needs its permission's scope (auth.ScopeOf). A
// route in neither is refused to every scoped token: deny by default.
var routeScopes = map[string][]string{
	"GET /api/me":                  noScope,
	"POST /api/logout":             noScope,
	"GET /api/scopes":              noScope,
	"POST /api/login/mfa":          noScope,
	"GET /api/mfa":                 noScope,
	"POST /api/mfa/enroll":         noScope,
	"GET /api/mfa/enroll/qr.png":   noScope,
	"POST /api/mfa/confirm":        noScope,
	"POST /api/mfa/stepup":         noScope,
	"POST /api/mfa/recovery-codes": noScope,
	// Identity: the caller's own step-up and passkeys (those that change
	// something need a portal session anyway).
	"POST /api/sso/stepup":               noScope,
	"GET /api/passkeys":                  noScope,
	"DELETE /api/passkeys/{id}":          noScope,
	"POST /api/passkeys/register/begin":  noScope,
	"POST /api/passkeys/register/finish": noScope,
	"POST /api/passkeys/verify/begin":    noScope,
	"POST /api/passkeys/verify/finish":   noScope,

	"GET /api/events":                        {"devices:read"},
	"POST /api/sessions":                     {"sessions:write"},
	"POST /api/sessions/{id}/end":            {"sessions:write", "sessions:terminate"},
	"POST /api/sessions/{id}/view-only":      {"sessions:write"},
	"POST /api/sessions/{id}/display":        {"sessions:write"},
	"POST /api/sessions/{id}/extend":         {"sessions:write"},
	"GET /api/sessions/{id}/signal":          {"sessions:write"},
	"POST /api/devices/{id}/breakglass":      {"breakglass:write"},
	"POST /api/breakglass/{id}/revoke":       {"breakglass:write"},
	"POST /api/devices/{id}/elevation-codes": {"elevation:write"},

	"GET /api/access/entitlements":            {"access:read"},
	"GET /api/access/requests":                {"access:read"},
	"GET /api/access/requests/{id}":           {"access:read"},
	"POST /api/access/requests":               {"access:write"},
	"POST /api/access/requests/{id}/approve":  {"access:write"},
	"POST /api/access/requests/{id}/deny":     {"access:write"},
	"POST /api/access/requests/{id}/escalate": {"access:write"},
	"POST /api/access/requests/{id}/cancel":   {"access:write"},
	"POST /api/access/requests/{id}/revoke":   {"access:write"},

	"GET /api/api-tokens":              {"tokens:read"},
	"POST /api/api-tokens":             {"tokens:write"},
	"POST /api/api-tokens/{id}/revoke": {"tokens:write"},
}

// scopesFor returns the scopes one of which a token needs to call the
// route pattern guarded by perm ("" for none); ok is false for a route no
// scope opens.
func scopesFor(perm auth.Permission, pattern string) (need []string, ok bool) {
	if perm != "" {
		if s := auth.ScopeOf(perm); s != "" {
			return []string{s}, true
		}
		return nil, false
	}
	need, ok = routeScopes[pattern]
	return need, ok
}

// scopeError is a refusal for want of an API token scope; fail answers it
// 403 naming the scope.
type scopeError struct{ scope string }

func (e *scopeError) Error() string {
	if e.scope == "" {
		return "API tokens with scopes cannot call this; use a token from \"porthole login\" or the portal"
	}
	return fmt.Sprintf("this API token's scopes do not include %s", e.scope)
}

func (e *scopeError) Unwrap() error { return errForbidden }

// scopeAllows checks the caller's token scopes for a route guarded by
// perm; on a refusal it audits (access.denied with the missing scope),
// answers 403 naming the scope and reports false.
func (a *API) scopeAllows(w http.ResponseWriter, r *http.Request, perm auth.Permission) bool {
	p := principal(r)
	if p.Scopes == nil {
		return true
	}
	need, ok := scopesFor(perm, r.Pattern)
	if !ok {
		a.refuseScope(w, r, "", "")
		return false
	}
	if len(need) == 0 {
		return true
	}
	for _, s := range need {
		if p.Scopes.Has(s) {
			return true
		}
	}
	a.refuseScope(w, r, "", need[0])
	return false
}

// refuseScope audits and answers a refusal for want of scope ("": no scope opens the route).
func (a *API) refuseScope(w http.ResponseWriter, r *http.Request, target, scope string) {
	if err := a.record(r, "access.denied", target, map[string]any{"method": r.Method, "path": r.URL.Path,
		"role": string(principal(r).Role), "token": principal(r).TokenID, "missing_scope": scope}); err != nil {
		a.log.Error("audit access denied", "err", err)
	}
	a.fail(w, r, &scopeError{scope})
}

// writeScopeError answers a scope refusal; ok is false for other errors.
func writeScopeError(w http.ResponseWriter, err error) bool {
	var se *scopeError
	if !errors.As(err, &se) {
		return false
	}
	writeJSON(w, http.StatusForbidden, map[string]string{"error": se.Error(), "missing_scope": se.scope})
	return true
}

// listScopes is the API token scope vocabulary (GET /api/scopes).
func (a *API) listScopes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, auth.Vocabulary)
}
