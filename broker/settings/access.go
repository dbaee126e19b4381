package settings

// Keys of the user lifecycle, API tokens and zero standing privilege
// (global scope only: they are about people, not devices).
const (
	// AccessStanding says where technicians' device rights (connect, break
	// glass, elevation codes) come from: "role" (their role, on every device
	// or on the groups they are bound to) or "none" (only an active access
	// grant; zero standing privilege). Admins keep their rights either way.
	AccessStanding = "access.standing"
	// APITokensMaxDays bounds the lifetime of an API token (days, 1..3650, default 90).
	APITokensMaxDays = "api_tokens.max_days"
	// CLITokenHours is the lifetime of the token "porthole login" gets
	// (hours, 1..8760, default 720: 30 days).
	CLITokenHours = "cli.token_hours"
)

// Values of AccessStanding.
const (
	StandingRole = "role"
	StandingNone = "none"
)

func init() {
	for k, sp := range map[string]spec{
		AccessStanding: {StandingRole, oneOf(StandingRole, StandingNone),
			"Standing access of technicians: role (their role gives device rights) or none (only an active access grant does; admins keep theirs)"},
		APITokensMaxDays: {"90", intRange(1, 3650), "Longest lifetime of an API token, in days (global scope)"},
		CLITokenHours:    {"720", intRange(1, 8760), "Lifetime of the token \"porthole login\" issues, in hours (global scope)"},
	} {
		specs[k] = sp
		globalOnly[k] = true
	}
	labels[AccessStanding] = "Standing access (zero standing privilege)"
	labels[APITokensMaxDays] = "API token max lifetime (days)"
	labels[CLITokenHours] = "CLI login token lifetime (hours)"
}
