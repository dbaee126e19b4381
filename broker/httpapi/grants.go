package httpapi

import (
	"fmt"
	"net/http"

	"porthole/broker/access"
	"porthole/broker/auth"
)

// standIn names the entitlement whose active grant stands in for a role's
// permission on the devices of the grant's group: just-in-time access.
var standIn = map[auth.Permission]string{
	auth.ConnectDevice:      access.RemoteSupport,
	auth.BreakGlass:         access.BreakGlass,
	auth.IssueElevationCode: access.ElevationCodes,
}

// grantOn returns the caller's active grant of the entitlement name on
// deviceID's group; ok is false when there is none.
func (a *API) grantOn(r *http.Request, name, deviceID string) (g access.Grant, ok bool, err error) {
	if a.cfg.Access == nil {
		return access.Grant{}, false, nil
	}
	group, err := a.cfg.Store.DeviceGroup(r.Context(), deviceID)
	if err != nil || group == "" {
		return access.Grant{}, false, err
	}
	return a.cfg.Access.Holding(r.Context(), principal(r).Username, name, group)
}

// entitled checks that the caller may do what perm guards on deviceID:
// by role, or by an active grant that stands in for perm on the device's
// group. It returns the grant used (zero when the role sufficed). A use
// of a grant is audited (access.grant_used); a refusal is audited and
// answered 403, and ok is false.
func (a *API) entitled(w http.ResponseWriter, r *http.Request, perm auth.Permission, deviceID string) (access.Grant, bool) {
	if principal(r).Can(perm) {
		return access.Grant{}, true
	}
	return a.useGrant(w, r, standIn[perm], perm, deviceID, errNoGrant)
}

// useGrant finds the caller's grant of name on deviceID's group and audits
// its use; without one it refuses with why (audited as a denial of perm).
func (a *API) useGrant(w http.ResponseWriter, r *http.Request, name string, perm auth.Permission, deviceID string, why error) (access.Grant, bool) {
	g, held, err := a.grantOn(r, name, deviceID)
	if err != nil {
		a.fail(w, r, err)
		return g, false
	}
	if !held {
		a.refuse(w, r, deviceID, perm, why)
		return g, false
	}
	if err := a.record(r, "access.grant_used", deviceID, map[string]any{"grant": g.RequestID, "entitlement": g.Entitlement,
		"group_id": g.GroupID, "until": g.Until, "method": r.Method, "path": r.URL.Path}); err != nil {
		a.fail(w, r, err) // fail closed: a use that cannot be audited does not happen
		return g, false
	}
	return g, true
}

var (
	errNoGrant = fmt.Errorf("%w, and you hold no active access grant for this device's group "+
		"(request one on the Access page or with \"porthole request create\")", errForbidden)
	errNoUnattended = fmt.Errorf("%w: connecting without the end user's consent needs an active unattended_access grant "+
		"for this device's group", errForbidden)
)

// onDevice wraps a route on /api/devices/{id}/…: the caller needs perm by
// role or by a grant on that device's group.
func (a *API) onDevice(perm auth.Permission, next http.HandlerFunc) http.HandlerFunc {
	return a.authed("", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := a.entitled(w, r, perm, r.PathValue("id")); ok {
			next(w, r)
		}
	})
}
