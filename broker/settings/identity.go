package settings

import (
	"fmt"
	"slices"
	"strings"

	"porthole/internal/wire"
)

// Keys of sign-in (issue 20; global scope only: they are about people).
const (
	// LocalLogin says who may log in with a local password: "on"
	// (everyone with one) or "break_glass" (only the usernames in
	// BreakGlassAdmins: everyone else signs in at an identity provider).
	LocalLogin = "auth.local_login"
	// BreakGlassAdmins lists, comma-separated, the accounts that keep
	// local login when LocalLogin is "break_glass".
	BreakGlassAdmins = "auth.break_glass_admins"
	// PhishingResistantRoles lists, comma-separated, the roles whose
	// logins and step-ups need a phishing-resistant factor: a passkey, or
	// an IdP sign-in the provider asserts as one (ADR 0015).
	PhishingResistantRoles = "auth.phishing_resistant_roles"
)

// Values of LocalLogin.
const (
	LocalLoginOn         = "on"
	LocalLoginBreakGlass = "break_glass"
)

var roleNames = []string{"admin", "technician", "approver", "auditor"}

// List splits a comma-separated setting value, trimmed, empties dropped.
func List(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func init() {
	for k, sp := range map[string]spec{
		LocalLogin: {LocalLoginOn, oneOf(LocalLoginOn, LocalLoginBreakGlass),
			"Local password login: on (every account with a password) or break_glass (only the accounts listed in auth.break_glass_admins)"},
		BreakGlassAdmins: {"", text(func(v string) error {
			for _, n := range List(v) {
				if err := wire.ValidateUsername(n); err != nil {
					return fmt.Errorf("%w: %q: %v", ErrBadValue, n, err)
				}
			}
			return nil
		}), "Accounts that keep local password login when auth.local_login is break_glass (comma-separated usernames)"},
		PhishingResistantRoles: {"", text(func(v string) error {
			for _, r := range List(v) {
				if !slices.Contains(roleNames, r) {
					return fmt.Errorf("%w: unknown role %q (admin, technician, approver, auditor)", ErrBadValue, r)
				}
			}
			return nil
		}), "Roles that must log in and step up with a phishing-resistant factor: a passkey, or an IdP sign-in asserted as one (comma-separated)"},
	} {
		specs[k] = sp
		globalOnly[k] = true
	}
	labels[LocalLogin] = "Local password login"
	labels[BreakGlassAdmins] = "Break-glass admins (local login)"
	labels[PhishingResistantRoles] = "Roles needing a phishing-resistant factor"
}
