package wire

import "time"

// Break-glass messages on the agent link:
//
//	broker → agent  breakglass_create  {grant_id, requester, expires_at, use_within_seconds}
//	agent  → broker breakglass_created {grant_id, username, password, created_at, expires_at, use_by?}
//	broker → agent  breakglass_revoke  {grant_id, username}
//	agent  → broker breakglass_revoked {grant_id, username}
//	agent  → broker breakglass_failed  {grant_id, op, error}   (instead of created/revoked)
//
// The password exists only in breakglass_created, on the agent's
// authenticated link, and in the broker's HTTP answer to the portal user
// who asked; neither side stores or logs it. What happens to the account
// afterwards (first use, expiry, removal) reaches the broker as outbox
// events ("breakglass.*"), not as replies.
func init() {
	register(
		func() Message { return &BreakGlassCreate{} },
		func() Message { return &BreakGlassCreated{} },
		func() Message { return &BreakGlassRevoke{} },
		func() Message { return &BreakGlassRevoked{} },
		func() Message { return &BreakGlassFailed{} },
	)
}

// Bounds of break-glass messages.
const (
	// MaxBreakGlassLifetime bounds expires_at - now as the agent sees it
	// (the broker's settings allow far less).
	MaxBreakGlassLifetime = 72 * time.Hour
	maxUsername           = 32
	maxPassword           = 128
)

// Operations named by BreakGlassFailed.
const (
	BreakGlassOpCreate = "create"
	BreakGlassOpRevoke = "revoke"
)

// BreakGlassCreate asks the agent for a temporary local administrator.
type BreakGlassCreate struct {
	GrantID   string    `json:"grant_id"`
	Requester string    `json:"requester"`
	ExpiresAt time.Time `json:"expires_at"`
	// UseWithinSeconds removes the account early if nobody logged in that
	// long after creation; 0 means no such window.
	UseWithinSeconds int `json:"use_within_seconds"`
}

func (*BreakGlassCreate) Type() string { return "breakglass_create" }
func (m *BreakGlassCreate) Validate() error {
	if err := validID(m.GrantID); err != nil {
		return err
	}
	if m.Requester == "" {
		return invalid("requester required")
	}
	if err := validText("requester", m.Requester, 128); err != nil {
		return err
	}
	if err := validTime("expires_at", m.ExpiresAt); err != nil {
		return err
	}
	if m.UseWithinSeconds < 0 || m.UseWithinSeconds > int(MaxBreakGlassLifetime/time.Second) {
		return invalid("use_within_seconds out of range")
	}
	return nil
}

// BreakGlassCreated hands the new account's credentials to the broker.
type BreakGlassCreated struct {
	GrantID   string    `json:"grant_id"`
	Username  string    `json:"username"`
	Password  string    `json:"password"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UseBy     time.Time `json:"use_by,omitzero"`
}

func (*BreakGlassCreated) Type() string { return "breakglass_created" }
func (m *BreakGlassCreated) Validate() error {
	if err := validID(m.GrantID); err != nil {
		return err
	}
	if err := validUsername(m.Username); err != nil {
		return err
	}
	if m.Password == "" {
		return invalid("password required")
	}
	if err := validText("password", m.Password, maxPassword); err != nil {
		return err
	}
	for name, t := range map[string]time.Time{"created_at": m.CreatedAt, "expires_at": m.ExpiresAt} {
		if err := validTime(name, t); err != nil {
			return err
		}
	}
	if !m.UseBy.IsZero() {
		return validTime("use_by", m.UseBy)
	}
	return nil
}

// BreakGlassRevoke asks the agent to log the account off and delete it now.
type BreakGlassRevoke struct {
	GrantID  string `json:"grant_id"`
	Username string `json:"username"`
}

func (*BreakGlassRevoke) Type() string { return "breakglass_revoke" }
func (m *BreakGlassRevoke) Validate() error {
	if err := validID(m.GrantID); err != nil {
		return err
	}
	return validUsername(m.Username)
}

// BreakGlassRevoked confirms the account is gone.
type BreakGlassRevoked struct {
	GrantID  string `json:"grant_id"`
	Username string `json:"username"`
}

func (*BreakGlassRevoked) Type() string { return "breakglass_revoked" }
func (m *BreakGlassRevoked) Validate() error {
	if err := validID(m.GrantID); err != nil {
		return err
	}
	return validUsername(m.Username)
}

// BreakGlassFailed reports that a create or revoke did not happen.
type BreakGlassFailed struct {
	GrantID string `json:"grant_id"`
	Op      string `json:"op"`
	Error   string `json:"error"`
}

func (*BreakGlassFailed) Type() string { return "breakglass_failed" }
func (m *BreakGlassFailed) Validate() error {
	if err := validID(m.GrantID); err != nil {
		return err
	}
	if m.Op != BreakGlassOpCreate && m.Op != BreakGlassOpRevoke {
		return invalid("op must be %q or %q", BreakGlassOpCreate, BreakGlassOpRevoke)
	}
	if m.Error == "" {
		return invalid("error required")
	}
	return validText("error", m.Error, 512)
}

// validUsername accepts portable local usernames: lowercase letters,
// digits, '-' and '_', starting with a letter.
func validUsername(s string) error {
	if len(s) == 0 || len(s) > maxUsername {
		return invalid("username length")
	}
	for i, c := range []byte(s) {
		letter := c >= 'a' && c <= 'z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '-' || c == '_')) {
			return invalid("username has character %q", c)
		}
	}
	return nil
}

// validTime bounds a timestamp to years that encode and compare sanely.
func validTime(name string, t time.Time) error {
	if t.IsZero() || t.Year() < 2000 || t.Year() > 9999 {
		return invalid("%s out of range", name)
	}
	return nil
}

// BreakGlassRequest is the portal's and CLI's body for a new break-glass
// account: either an absolute expiry or a duration from now.
type BreakGlassRequest struct {
	ExpiresAt       time.Time `json:"expires_at,omitzero"`
	DurationSeconds int       `json:"duration_seconds,omitempty"`
	// UseWithinMinutes shortens the use-within window of the setting
	// breakglass.use_within_minutes; 0 keeps the setting's.
	UseWithinMinutes int `json:"use_within_minutes,omitempty"`
}

// Validate wants exactly one of the two, in range; the broker's settings
// bound the lifetime further.
func (r *BreakGlassRequest) Validate() error {
	switch {
	case r.ExpiresAt.IsZero() == (r.DurationSeconds == 0):
		return invalid("give either expires_at or duration_seconds")
	case r.DurationSeconds < 0 || r.DurationSeconds > int(MaxBreakGlassLifetime/time.Second):
		return invalid("duration_seconds out of range")
	case r.UseWithinMinutes < 0 || r.UseWithinMinutes > int(MaxBreakGlassLifetime/time.Minute):
		return invalid("use_within_minutes out of range")
	case !r.ExpiresAt.IsZero():
		return validTime("expires_at", r.ExpiresAt)
	}
	return nil
}
