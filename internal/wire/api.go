package wire

import "crypto/ed25519"

// Bodies of the JSON HTTP API shared by the broker, the agent and the CLI.
// Each is decoded with DecodeJSON, which calls Validate.

// LoginRequest is POST /api/login and /api/cli/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// TokenName names the API token the CLI asks for (cli/login only).
	TokenName string `json:"token_name,omitempty"`
}

// Validate bounds the fields.
func (r *LoginRequest) Validate() error {
	if r.Username == "" || r.Password == "" {
		return invalid("username and password required")
	}
	if len(r.Password) > 1024 {
		return invalid("password too long")
	}
	if err := validText("username", r.Username, 64); err != nil {
		return err
	}
	return validText("token_name", r.TokenName, 64)
}

// EnrollRequest is POST /api/agent/enroll.
type EnrollRequest struct {
	Token     string    `json:"token"`
	PublicKey []byte    `json:"public_key"`
	Inventory Inventory `json:"inventory"`
}

// Validate bounds the fields.
func (r *EnrollRequest) Validate() error {
	if r.Token == "" || len(r.Token) > 128 {
		return invalid("token required")
	}
	if len(r.PublicKey) != ed25519.PublicKeySize {
		return invalid("public_key must be an Ed25519 key")
	}
	if r.Inventory.Hostname == "" {
		return invalid("hostname required")
	}
	return r.Inventory.Validate()
}

// EnrollResponse answers an enrollment.
type EnrollResponse struct {
	DeviceID     string `json:"device_id"`
	DeviceSecret []byte `json:"device_secret"`
}

// TokenRequest is POST /api/enroll-tokens.
type TokenRequest struct {
	MaxUses          int    `json:"max_uses"`
	ExpiresInSeconds int64  `json:"expires_in_seconds"`
	Note             string `json:"note"`
}

// Validate bounds the fields.
func (r *TokenRequest) Validate() error {
	if r.MaxUses < 1 || r.MaxUses > 100000 {
		return invalid("max_uses must be 1..100000")
	}
	if r.ExpiresInSeconds < 60 || r.ExpiresInSeconds > 365*24*3600 {
		return invalid("expires_in_seconds must be between 60 and one year")
	}
	return validText("note", r.Note, 200)
}

// UserRequest is POST /api/users.
type UserRequest struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	// Groups binds a technician to these device groups (empty: every device).
	Groups []string `json:"groups,omitempty"`
}

// Validate bounds the fields.
func (r *UserRequest) Validate() error {
	if err := ValidateUsername(r.Username); err != nil {
		return err
	}
	return (&RoleRequest{Role: r.Role, Groups: r.Groups}).Validate()
}

// ValidateUsername checks a new portal username: 2 to 64 ASCII letters,
// digits and . - _ @ (the broker stores it case-folded).
func ValidateUsername(name string) error {
	if len(name) < 2 || len(name) > 64 {
		return invalid("username must be 2..64 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '@') {
			return invalid("username may use letters, digits and . - _ @")
		}
	}
	return nil
}

// FoldUsername is the one form of a username the broker stores, looks up
// and compares: ASCII letters lower-cased, nothing else changed. Usernames
// are ASCII letters, digits and . - _ @ (ValidateUsername), on which this
// is Unicode simple case folding too; it is not Unicode-wide on purpose,
// so that no non-ASCII name (the Kelvin sign, dotless i) folds onto an
// ASCII account. ADR 0009.
func FoldUsername(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return name
}

// SessionRequest is POST /api/sessions.
type SessionRequest struct {
	DeviceID string `json:"device_id"`
	ViewOnly *bool  `json:"view_only,omitempty"` // nil: the device's setting decides
	Display  int    `json:"display"`
	// Unattended asks to connect without the end user's consent; the
	// broker allows it only under an unattended_access grant.
	Unattended bool `json:"unattended,omitempty"`
}

// Validate bounds the fields.
func (r *SessionRequest) Validate() error {
	if err := validID(r.DeviceID); err != nil {
		return err
	}
	return validDisplay(r.Display)
}

// SettingRequest is PUT /api/settings/{key}.
type SettingRequest struct {
	Scope string `json:"scope"`
	Value string `json:"value"`
}

// Validate bounds the fields; the settings package checks the meaning.
func (r *SettingRequest) Validate() error {
	if err := validText("scope", r.Scope, 80); err != nil {
		return err
	}
	return validText("value", r.Value, 1024)
}

// ViewOnlyRequest is POST /api/sessions/{id}/view-only.
type ViewOnlyRequest struct {
	ViewOnly bool `json:"view_only"`
}

// Validate accepts both values.
func (r *ViewOnlyRequest) Validate() error { return nil }

// DisplayRequest is POST /api/sessions/{id}/display.
type DisplayRequest struct {
	Display int `json:"display"`
}

// Validate bounds the display index.
func (r *DisplayRequest) Validate() error { return validDisplay(r.Display) }

// ViewerSignal is what a viewer page sends on the signaling websocket.
type ViewerSignal struct {
	Type string `json:"type"` // "answer" or "end"
	SDP  string `json:"sdp,omitempty"`
}

// Validate checks the type and SDP bounds.
func (r *ViewerSignal) Validate() error {
	switch r.Type {
	case "answer":
		if len(r.SDP) < 10 || len(r.SDP) > MaxSDP || r.SDP[:3] != "v=0" {
			return invalid("answer needs an SDP starting with v=0")
		}
	case "end":
		if r.SDP != "" {
			return invalid("end carries no sdp")
		}
	default:
		return invalid("unknown viewer signal %q", truncate(r.Type, 20))
	}
	return nil
}
