package sso

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"porthole/broker/auth"
)

// Config is the providers file (--oidc-config): admins configure the
// providers there, client secrets by file or environment variable only.
type Config struct {
	Providers []ProviderConfig `json:"providers"`
}

// ProviderConfig is one OpenID Provider.
type ProviderConfig struct {
	// ID names the provider in URLs, the audit log and the CLI
	// (porthole login --sso ID): lower-case letters, digits and '-'.
	ID string `json:"id"`
	// Name is shown on the login page: "Sign in with NAME".
	Name   string `json:"name"`
	Issuer string `json:"issuer"`
	// ClientID, and the secret from ClientSecretFile or the environment
	// variable ClientSecretEnv (never in this file, never logged). Neither
	// set: a public client (PKCE only).
	ClientID         string `json:"client_id"`
	ClientSecretFile string `json:"client_secret_file,omitempty"`
	ClientSecretEnv  string `json:"client_secret_env,omitempty"`
	// Scopes to ask for (default openid, profile, email; openid is always added).
	Scopes []string `json:"scopes,omitempty"`
	// UsernameClaim carries the Porthole username (default
	// preferred_username); StripDomain drops an "@domain" suffix from it.
	UsernameClaim string `json:"username_claim,omitempty"`
	StripDomain   bool   `json:"strip_domain,omitempty"`
	// GroupsClaim carries the user's groups (default groups): an array of
	// strings (or one string).
	GroupsClaim string `json:"groups_claim,omitempty"`
	// Groups map IdP groups to roles, in order: the first mapping whose
	// group the user is in gives the role (list the most privileged
	// first); every matched mapping of that role adds its device groups.
	Groups []GroupMapping `json:"groups"`
	// PhishingResistantAMR are the "amr" values by which this IdP asserts
	// a phishing-resistant sign-in (e.g. "hwk", "fido"); empty: an IdP
	// sign-in never counts as one (ADR 0015).
	PhishingResistantAMR []string `json:"phishing_resistant_amr,omitempty"`
}

// GroupMapping maps one IdP group to a role; DeviceGroups (technicians
// only; device group names or ids) bind the role to those device groups.
type GroupMapping struct {
	Group        string   `json:"group"`
	Role         string   `json:"role"`
	DeviceGroups []string `json:"device_groups,omitempty"`
}

var providerID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// LoadConfig reads and checks a providers file (unknown keys are errors).
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return ParseConfig(b)
}

// ParseConfig decodes and checks a providers file.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	seen := map[string]bool{}
	for i := range c.Providers {
		p := &c.Providers[i]
		if err := p.check(); err != nil {
			return Config{}, fmt.Errorf("%w: provider %q: %v", ErrConfig, p.ID, err)
		}
		if seen[p.ID] {
			return Config{}, fmt.Errorf("%w: provider %q twice", ErrConfig, p.ID)
		}
		seen[p.ID] = true
	}
	return c, nil
}

func (p *ProviderConfig) check() error {
	switch {
	case !providerID.MatchString(p.ID):
		return fmt.Errorf("id must be 1..32 lower-case letters, digits and '-'")
	case p.Name == "":
		return fmt.Errorf("name required")
	case !strings.HasPrefix(p.Issuer, "https://") && !strings.HasPrefix(p.Issuer, "http://127.0.0.1") && !strings.HasPrefix(p.Issuer, "http://localhost"):
		return fmt.Errorf("issuer must be an https URL")
	case p.ClientID == "":
		return fmt.Errorf("client_id required")
	case p.ClientSecretFile != "" && p.ClientSecretEnv != "":
		return fmt.Errorf("client_secret_file or client_secret_env, not both")
	case len(p.Groups) == 0:
		return fmt.Errorf("groups: at least one group mapping is required (a user in no mapped group is refused)")
	}
	if p.UsernameClaim == "" {
		p.UsernameClaim = "preferred_username"
	}
	if p.GroupsClaim == "" {
		p.GroupsClaim = "groups"
	}
	if len(p.Scopes) == 0 {
		p.Scopes = []string{"openid", "profile", "email"}
	}
	if !slices.Contains(p.Scopes, "openid") {
		p.Scopes = append([]string{"openid"}, p.Scopes...)
	}
	for _, g := range p.Groups {
		r, err := auth.ParseRole(g.Role)
		if err != nil {
			return fmt.Errorf("group %q: %v", g.Group, err)
		}
		if g.Group == "" {
			return fmt.Errorf("a group mapping without a group")
		}
		if len(g.DeviceGroups) > 0 && !r.Bindable() {
			return fmt.Errorf("group %q: only the technician role can be bound to device groups", g.Group)
		}
	}
	return nil
}

// secret reads the client secret from its file or environment variable.
func (p ProviderConfig) secret(getenv func(string) (string, bool)) (string, error) {
	switch {
	case p.ClientSecretFile != "":
		b, err := os.ReadFile(p.ClientSecretFile)
		if err != nil {
			return "", fmt.Errorf("%w: provider %s: client secret: %v", ErrConfig, p.ID, err)
		}
		return strings.TrimSpace(string(b)), nil
	case p.ClientSecretEnv != "":
		v, ok := getenv(p.ClientSecretEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("%w: provider %s: $%s is not set", ErrConfig, p.ID, p.ClientSecretEnv)
		}
		return v, nil
	}
	return "", nil
}

// Mapping is what a user's groups give: a role, and the device groups a
// technician is bound to (nil: every device).
type Mapping struct {
	Role         string
	DeviceGroups []string
	// Matched are the IdP groups that gave it.
	Matched []string
}

// Map applies the provider's group mappings to a user's groups; ok is
// false when none matches (the user is refused).
func (p ProviderConfig) Map(groups []string) (m Mapping, ok bool) {
	bound := true
	for _, g := range p.Groups {
		if !slices.Contains(groups, g.Group) || (ok && g.Role != m.Role) {
			continue
		}
		ok = true
		m.Role = g.Role
		m.Matched = append(m.Matched, g.Group)
		if len(g.DeviceGroups) == 0 {
			bound = false
		}
		m.DeviceGroups = append(m.DeviceGroups, g.DeviceGroups...)
	}
	if !ok {
		return Mapping{}, false
	}
	if !bound {
		m.DeviceGroups = nil
	} else {
		slices.Sort(m.DeviceGroups)
		m.DeviceGroups = slices.Compact(m.DeviceGroups)
	}
	return m, true
}
