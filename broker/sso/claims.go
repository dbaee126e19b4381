package sso

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Callback is the callback's query: the code and state of a success, or
// an error code of the provider.
type Callback struct {
	Code  string
	State string
	Error string
}

// Bounds of the callback's parameters.
const (
	maxCode  = 4096
	maxState = 256
	maxError = 128
)

// ParseCallback checks the callback's query (untrusted: anyone can call
// the callback URL). Exactly one of code and error; a state always; sizes
// bounded; the error code is kept only if it is a plain token (RFC 6749
// error codes are %x20-21 / %x23-5B / %x5D-7E) so it can be shown safely.
func ParseCallback(q url.Values) (Callback, error) {
	one := func(k string, limit int) (string, error) {
		vs := q[k]
		switch {
		case len(vs) == 0:
			return "", nil
		case len(vs) > 1:
			return "", fmt.Errorf("%w: %s given twice", ErrNoFlow, k)
		case len(vs[0]) > limit:
			return "", fmt.Errorf("%w: %s too long", ErrNoFlow, k)
		}
		return vs[0], nil
	}
	var c Callback
	var err error
	if c.State, err = one("state", maxState); err != nil {
		return Callback{}, err
	}
	if c.Code, err = one("code", maxCode); err != nil {
		return Callback{}, err
	}
	if c.Error, err = one("error", maxError); err != nil {
		return Callback{}, err
	}
	switch {
	case c.State == "":
		return Callback{}, fmt.Errorf("%w: no state", ErrNoFlow)
	case c.Code == "" && c.Error == "":
		return Callback{}, fmt.Errorf("%w: neither code nor error", ErrNoFlow)
	case c.Code != "" && c.Error != "":
		return Callback{}, fmt.Errorf("%w: both code and error", ErrNoFlow)
	}
	for _, r := range c.Error {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			c.Error = "invalid_error_code"
			break
		}
	}
	return c, nil
}

type idClaims struct {
	username string
	groups   []string
	authTime time.Time
	amr      []string
	acr      string
}

// parseClaims reads the configured username and groups claims, auth_time,
// amr and acr from a verified ID token. Entra ID's group overage (more
// groups than fit: "_claim_names" instead of "groups") is refused with a
// clear message rather than read as "no groups".
func parseClaims(it *oidc.IDToken, cfg ProviderConfig) (idClaims, error) {
	var all map[string]json.RawMessage
	if err := it.Claims(&all); err != nil {
		return idClaims{}, fmt.Errorf("%w: claims: %v", ErrToken, err)
	}
	var c idClaims
	if raw, ok := all[cfg.UsernameClaim]; ok {
		_ = json.Unmarshal(raw, &c.username)
	}
	if raw, ok := all[cfg.GroupsClaim]; ok {
		if json.Unmarshal(raw, &c.groups) != nil {
			var one string
			if json.Unmarshal(raw, &one) != nil {
				return idClaims{}, fmt.Errorf("%w: claim %q is neither a list of strings nor a string", ErrToken, cfg.GroupsClaim)
			}
			c.groups = []string{one}
		}
	} else if names, ok := all["_claim_names"]; ok {
		var m map[string]string
		if json.Unmarshal(names, &m) == nil && m[cfg.GroupsClaim] != "" {
			return idClaims{}, fmt.Errorf("%w: the identity provider left the %q claim out (too many groups: Entra ID's group overage); "+
				"have it send only the groups assigned to the application", ErrRefused, cfg.GroupsClaim)
		}
	}
	var at float64
	if raw, ok := all["auth_time"]; ok && json.Unmarshal(raw, &at) == nil && at > 0 {
		c.authTime = time.Unix(int64(at), 0)
	}
	if raw, ok := all["amr"]; ok {
		_ = json.Unmarshal(raw, &c.amr)
	}
	if raw, ok := all["acr"]; ok {
		_ = json.Unmarshal(raw, &c.acr)
	}
	return c, nil
}
