package httpapi

import (
	"fmt"
	"net/http"

	"porthole/broker/access"
	"porthole/broker/auth"
)

// The rights a DeviceView lists.
const (
	RightConnect        = "connect"
	RightUnattended     = "unattended"
	RightBreakGlass     = "break_glass"
	RightElevationCodes = "elevation_codes"
)

// rights is the one table of just-in-time access: each right a device view
// lists, the role permission that gives it ("": no role does), the
// entitlement whose active grant stands in for it on the devices of the
// grant's group, and the API token scope that lets a token use it either
// way (the scope of its permission in auth.Vocabulary).
var rights = []struct {
	name, entitlement string
	perm              auth.Permission
	scope             string
}{
	{RightConnect, access.RemoteSupport, auth.ConnectDevice, "sessions:write"},
	{RightUnattended, access.UnattendedAccess, "", "sessions:write"},
	{RightBreakGlass, access.BreakGlass, auth.BreakGlass, "breakglass:write"},
	{RightElevationCodes, access.ElevationCodes, auth.IssueElevationCode, "elevation:write"},
}

// standIn names the entitlement whose grant stands in for perm ("": none).
func standIn(perm auth.Permission) string {
	for _, x := range rights {
		if x.perm == perm {
			return x.entitlement
		}
	}
	return ""
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
// by role (on every device, or on the groups the user is bound to; not
// for a technician under access.standing = none), or by an active grant
// that stands in for perm on the device's group — and, for an API token,
// within its scopes either way. It returns the grant used (zero when the
// role sufficed). A use of a grant is audited (access.grant_used); a
// refusal is audited and answered 403, and ok is false.
func (a *API) entitled(w http.ResponseWriter, r *http.Request, perm auth.Permission, deviceID string) (access.Grant, bool) {
	p := principal(r)
	if !p.Scopes.Allows(perm) {
		a.refuseScope(w, r, deviceID, auth.ScopeOf(perm))
		return access.Grant{}, false
	}
	byRole, err := a.roleOn(r, perm, deviceID)
	if err != nil {
		a.fail(w, r, err)
		return access.Grant{}, false
	}
	if byRole {
		return access.Grant{}, true
	}
	why := errNoGrant
	if p.Role.Can(perm) && p.NoStanding {
		why = errNoStanding
	} else if p.Role.Can(perm) && p.GroupBound {
		why = errNotYourGroup
	}
	return a.useGrant(w, r, standIn(perm), perm, deviceID, why)
}

// roleOn reports whether the caller's role (not a grant) gives perm on
// deviceID, looking the device's group up only when that decides it.
func (a *API) roleOn(r *http.Request, perm auth.Permission, deviceID string) (bool, error) {
	p := principal(r)
	if p.Can(perm) {
		return true, nil
	}
	if !p.Role.Can(perm) || !p.GroupBound || p.NoStanding {
		return false, nil
	}
	group, err := a.cfg.Store.DeviceGroup(r.Context(), deviceID)
	if err != nil {
		return false, err
	}
	return p.CanOn(perm, group), nil
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
	errNoStanding = fmt.Errorf("%w: standing access is off (access.standing = none), so this needs an active access grant "+
		"for this device's group (request one on the Access page or with \"porthole request create\")", errForbidden)
	errNotYourGroup = fmt.Errorf("%w: your role applies to other device groups only, and you hold no active access grant "+
		"for this device's group", errForbidden)
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
