package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrBadScope is an API token scope outside the vocabulary.
var ErrBadScope = errors.New("unknown API token scope")

// ScopeDef is one scope of the API token vocabulary: "area:verb".
type ScopeDef struct {
	Name string `json:"name"`
	Doc  string `json:"doc"`
	// Permission is the role permission the scope lets a token use; ""
	// for scopes of routes every logged-in user may call (their own
	// access requests and tokens).
	Permission Permission `json:"permission,omitempty"`
}

// Vocabulary is every scope an API token can hold. Each role permission
// has exactly one scope, so "scope ∩ the owner's current role (or access
// grant)" is what a token may do at each request; the device rights of the
// broker's rights table (connect, break glass, elevation codes) are the
// scopes of their permissions.
var Vocabulary = []ScopeDef{
	{"devices:read", "list devices, their settings, groups, sessions and break-glass accounts; live updates", ViewDevices},
	{"devices:write", "revoke devices", ManageDevices},
	{"enrollment:write", "list, create and revoke agent enrollment tokens", Enroll},
	{"users:write", "list, create, disable, enable, delete users; change roles; reset passwords and MFA", ManageUsers},
	{"sessions:write", "start, steer, extend and end your own remote support sessions (by role or access grant)", ConnectDevice},
	{"sessions:terminate", "end anyone's live remote support session", TerminateSession},
	{"audit:read", "read, export and verify the audit log", ViewAudit},
	{"settings:write", "change settings, device groups and entitlements; review emergency grants", ManageSettings},
	{"recordings:read", "list, replay and verify session recordings", ViewRecordings},
	{"elevation:write", "issue temporary admin codes (by role or access grant)", IssueElevationCode},
	{"elevation:read", "read elevation sessions and what ran elevated", ViewElevations},
	{"elevation:decide", "approve or deny end users' elevation requests", DecideElevationRequest},
	{"breakglass:write", "create and revoke break-glass accounts (by role or access grant)", BreakGlass},
	{"requests:read", "see the requests queue and the active access grants", ViewRequests},
	{"requests:write", "approve and deny requests in the queue", DecideRequests},
	{"access:read", "see entitlements and your access requests", ""},
	{"access:write", "request, approve, deny, escalate, cancel and revoke access requests", ""},
	{"tokens:read", "list your API tokens", ""},
	{"tokens:write", "create (never wider than the creating token) and revoke your API tokens", ""},
}

// ScopeOf returns the scope that lets a token use perm ("" if none does).
func ScopeOf(perm Permission) string {
	for _, d := range Vocabulary {
		if d.Permission == perm && perm != "" {
			return d.Name
		}
	}
	return ""
}

func knownScope(name string) bool {
	return slices.ContainsFunc(Vocabulary, func(d ScopeDef) bool { return d.Name == name })
}

func knownArea(area string) bool {
	return slices.ContainsFunc(Vocabulary, func(d ScopeDef) bool { return strings.HasPrefix(d.Name, area+":") })
}

// Scopes is what an API token may do. nil means unrestricted: browser
// sessions and "porthole login" tokens, which carry all of their owner's
// rights.
type Scopes []string

// ParseScopes validates scope names (comma- or space-separated items are
// split): a name of the vocabulary, "area:*" for every scope of an area,
// or "*" for all. It returns them sorted without repeats; at least one is
// required.
func ParseScopes(items []string) (Scopes, error) {
	var out Scopes
	for _, it := range items {
		for _, s := range strings.FieldsFunc(it, func(r rune) bool { return r == ',' || r == ' ' }) {
			area, verb, ok := strings.Cut(s, ":")
			switch {
			case s == "*", knownScope(s), ok && verb == "*" && knownArea(area):
			default:
				return nil, fmt.Errorf("%w %q (see GET /api/scopes or the README)", ErrBadScope, s)
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: at least one scope is required", ErrBadScope)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Has reports whether s includes the scope name, directly, through
// "area:*" or through "*".
func (s Scopes) Has(name string) bool {
	if s == nil {
		return true
	}
	area, _, _ := strings.Cut(name, ":")
	for _, x := range s {
		if x == "*" || x == name || x == area+":*" {
			return true
		}
	}
	return false
}

// Allows reports whether s lets a token use perm.
func (s Scopes) Allows(perm Permission) bool {
	if s == nil {
		return true
	}
	name := ScopeOf(perm)
	return name != "" && s.Has(name)
}

// Covers reports whether every scope that req grants is one s grants too
// (a token creating a token cannot widen its own scopes).
func (s Scopes) Covers(req Scopes) bool {
	if s == nil {
		return true
	}
	for _, d := range Vocabulary {
		if req.Has(d.Name) && !s.Has(d.Name) {
			return false
		}
	}
	return true
}
