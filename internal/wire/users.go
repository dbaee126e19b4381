package wire

// RoleRequest is PUT /api/users/{id}/role: the role and, for technicians,
// the device groups it is bound to (empty: every device).
type RoleRequest struct {
	Role   string   `json:"role"`
	Groups []string `json:"groups,omitempty"`
}

// maxGroups bounds the role bindings of one request.
const maxGroups = 100

// Validate bounds the fields (the broker checks the role and the groups exist).
func (r *RoleRequest) Validate() error {
	switch r.Role {
	case "admin", "technician", "approver", "auditor":
	default:
		return invalid("role must be admin, technician, approver or auditor")
	}
	return validGroups(r.Groups)
}

func validGroups(gs []string) error {
	if len(gs) > maxGroups {
		return invalid("at most %d groups", maxGroups)
	}
	for _, g := range gs {
		if g == "" {
			return invalid("empty group id")
		}
		if err := validText("group", g, 64); err != nil {
			return err
		}
	}
	return nil
}

// APITokenRequest is POST /api/api-tokens: an API token with scopes.
type APITokenRequest struct {
	Scopes           []string `json:"scopes"`
	ExpiresInSeconds int64    `json:"expires_in_seconds"`
	Note             string   `json:"note,omitempty"`
}

// Validate bounds the fields; the broker checks the scope names and the
// longest lifetime its settings allow.
func (r *APITokenRequest) Validate() error {
	if len(r.Scopes) == 0 || len(r.Scopes) > 64 {
		return invalid("scopes: 1..64 required")
	}
	for _, s := range r.Scopes {
		if s == "" {
			return invalid("empty scope")
		}
		if err := validText("scope", s, 64); err != nil {
			return err
		}
	}
	if r.ExpiresInSeconds < 60 || r.ExpiresInSeconds > 3650*24*3600 {
		return invalid("expires_in_seconds must be between 60 and ten years")
	}
	return validText("note", r.Note, 200)
}
