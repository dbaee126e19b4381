package wire

import "strings"

// AccessPolicy is an entitlement policy as the API carries it (durations
// in seconds); broker/access turns it into a policy.Policy.
type AccessPolicy struct {
	Approvers             []string `json:"approvers"`
	Approvals             int      `json:"approvals"`
	MaxDurationSeconds    int64    `json:"max_duration_seconds"`
	JustificationRequired bool     `json:"justification_required"`
	AllowSelfApproval     bool     `json:"allow_self_approval"`
	AutoApprove           bool     `json:"auto_approve"`
}

// Validate bounds the sizes; broker/policy checks the rules.
func (p *AccessPolicy) Validate() error {
	if len(p.Approvers) > 50 {
		return invalid("more than 50 approvers")
	}
	for _, a := range p.Approvers {
		if err := validText("approver", a, 128); err != nil {
			return err
		}
	}
	if p.Approvals < 0 || p.Approvals > 10 || p.MaxDurationSeconds < 0 || p.MaxDurationSeconds > 30*24*3600 {
		return invalid("approvals or max duration out of range")
	}
	return nil
}

// EntitlementRequest is PUT /api/access/entitlements: create or replace the
// entitlement Name on group GroupID. A nil Emergency disables the
// emergency path.
type EntitlementRequest struct {
	Name      string        `json:"name"`
	GroupID   string        `json:"group_id"`
	Request   AccessPolicy  `json:"request"`
	Emergency *AccessPolicy `json:"emergency,omitempty"`
}

// Validate checks the sizes of every field.
func (r *EntitlementRequest) Validate() error {
	if err := validText("name", r.Name, 64); err != nil {
		return err
	}
	if err := validID(r.GroupID); err != nil {
		return err
	}
	if err := r.Request.Validate(); err != nil {
		return err
	}
	if r.Emergency != nil {
		return r.Emergency.Validate()
	}
	return nil
}

// AccessRequestCreate is POST /api/access/requests: ask for an entitlement
// (by id, or by name and optionally group id or name) for a while.
type AccessRequestCreate struct {
	EntitlementID   string `json:"entitlement_id,omitempty"`
	Entitlement     string `json:"entitlement,omitempty"`
	Group           string `json:"group,omitempty"`
	DurationSeconds int64  `json:"duration_seconds"`
	Justification   string `json:"justification"`
	Emergency       bool   `json:"emergency"`
}

// Validate checks the sizes; the policy checks duration and justification.
func (r *AccessRequestCreate) Validate() error {
	if r.EntitlementID == "" && strings.TrimSpace(r.Entitlement) == "" {
		return invalid("entitlement or entitlement_id required")
	}
	if r.EntitlementID != "" {
		if err := validID(r.EntitlementID); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"entitlement", r.Entitlement, 64}, {"group", r.Group, 64}, {"justification", r.Justification, 1000}} {
		if err := validText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if r.DurationSeconds <= 0 || r.DurationSeconds > 30*24*3600 {
		return invalid("duration_seconds must be 1 to 30 days")
	}
	return nil
}
