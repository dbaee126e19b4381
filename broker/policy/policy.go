// Package policy decides access requests: who may approve an entitlement
// request, how many approvals grant it, how long a grant lasts, and the
// emergency path that bypasses the normal policy (with a review
// afterwards). It is pure: the caller loads and stores requests and passes
// the time, so every rule is table-tested without a database or a clock.
package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Principal is who acts: a portal user and their role.
type Principal struct {
	User string
	Role string
}

// Policy is how requests for an entitlement are decided.
type Policy struct {
	// Approvers lists "user:NAME" and "role:ROLE" entries.
	Approvers []string `json:"approvers"`
	// Approvals is how many distinct approvers grant a request (at least 1
	// unless AutoApprove).
	Approvals int `json:"approvals"`
	// MaxDuration bounds a grant.
	MaxDuration time.Duration `json:"max_duration"`
	// JustificationRequired refuses requests without a reason.
	JustificationRequired bool `json:"justification_required"`
	// AllowSelfApproval lets a requester who is also an approver approve
	// their own request (off by default: four eyes).
	AllowSelfApproval bool `json:"allow_self_approval"`
	// AutoApprove grants at once; the grant then needs a review afterwards.
	AutoApprove bool `json:"auto_approve"`
}

// Validate checks a policy an admin configured.
func (p Policy) Validate() error {
	if p.MaxDuration <= 0 || p.MaxDuration > 30*24*time.Hour {
		return fmt.Errorf("%w: max duration must be between 1s and 30 days", ErrInvalid)
	}
	if !p.AutoApprove && (p.Approvals < 1 || p.Approvals > 10) {
		return fmt.Errorf("%w: approvals must be 1 to 10", ErrInvalid)
	}
	if !p.AutoApprove && len(p.Approvers) == 0 {
		return fmt.Errorf("%w: a policy needs approvers unless it auto-approves", ErrInvalid)
	}
	for _, a := range p.Approvers {
		kind, name, ok := strings.Cut(a, ":")
		if !ok || name == "" || (kind != "user" && kind != "role") {
			return fmt.Errorf("%w: approver %q: want user:NAME or role:ROLE", ErrInvalid, a)
		}
	}
	return nil
}

// Entitlement is a named right on a device group with its policies.
type Entitlement struct {
	Name      string  `json:"name"`
	Group     string  `json:"group"`
	Request   Policy  `json:"request"`
	Emergency *Policy `json:"emergency,omitempty"` // nil: no emergency path
}

// Validate checks an entitlement an admin configured.
func (e Entitlement) Validate() error {
	if e.Name == "" {
		return fmt.Errorf("%w: entitlement name required", ErrInvalid)
	}
	if err := e.Request.Validate(); err != nil {
		return fmt.Errorf("request policy: %w", err)
	}
	if e.Emergency != nil {
		if err := e.Emergency.Validate(); err != nil {
			return fmt.Errorf("emergency policy: %w", err)
		}
	}
	return nil
}

// policy is the one that decides r.
func (e Entitlement) policy(emergency bool) Policy {
	if emergency && e.Emergency != nil {
		return *e.Emergency
	}
	return e.Request
}

// State of a request.
type State string

// Request states. Pending → approved | denied | cancelled | expired (not
// decided in time); approved → revoked | expired (grant over).
const (
	Pending   State = "pending"
	Approved  State = "approved"
	Denied    State = "denied"
	Cancelled State = "cancelled"
	Revoked   State = "revoked"
	Expired   State = "expired"
)

// Approval is one approver's yes.
type Approval struct {
	By      string    `json:"by"`
	Role    string    `json:"role"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
}

// Request is one ask for an entitlement and, once approved, the grant.
type Request struct {
	Entitlement   string        `json:"entitlement"`
	Requester     string        `json:"requester"`
	Justification string        `json:"justification"`
	Duration      time.Duration `json:"duration"`
	Emergency     bool          `json:"emergency"`
	State         State         `json:"state"`
	Approvals     []Approval    `json:"approvals"`
	CreatedAt     time.Time     `json:"created_at"`
	// DecidedAt is when it was approved, denied, cancelled or revoked.
	DecidedAt time.Time `json:"decided_at,omitzero"`
	DecidedBy string    `json:"decided_by,omitempty"`
	Comment   string    `json:"comment,omitempty"`
	// ExpiresAt ends a grant.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// NeedsReview marks an emergency grant until an admin reviews it.
	NeedsReview bool      `json:"needs_review"`
	ReviewedBy  string    `json:"reviewed_by,omitempty"`
	ReviewedAt  time.Time `json:"reviewed_at,omitzero"`
}

// New makes a request of ent for requester. An emergency request uses the
// emergency policy; one that auto-approves is granted at once.
func New(ent Entitlement, requester Principal, d time.Duration, justification string, emergency bool, now time.Time) (Request, error) {
	if emergency && ent.Emergency == nil {
		return Request{}, ErrNoEmergency
	}
	r := Request{Entitlement: ent.Name, Requester: requester.User, Justification: strings.TrimSpace(justification),
		Duration: d, Emergency: emergency, State: Pending, CreatedAt: now}
	p := ent.policy(emergency)
	if d <= 0 {
		return Request{}, fmt.Errorf("%w: duration must be positive", ErrInvalid)
	}
	if d > p.MaxDuration {
		return Request{}, fmt.Errorf("%w: %s > %s", ErrTooLong, d, p.MaxDuration)
	}
	if p.JustificationRequired && r.Justification == "" {
		return Request{}, ErrJustification
	}
	r.settle(p, now)
	return r, nil
}

// settle grants r when its policy is satisfied.
func (r *Request) settle(p Policy, now time.Time) {
	if r.State != Pending || (!p.AutoApprove && r.countFor(p) < p.Approvals) {
		return
	}
	r.State, r.DecidedAt, r.ExpiresAt = Approved, now, now.Add(r.Duration)
	if p.AutoApprove {
		r.DecidedBy = "policy:auto"
	} else {
		r.DecidedBy = r.Approvals[len(r.Approvals)-1].By
	}
	r.NeedsReview = r.Emergency
}

// countFor counts the approvals p accepts: after an escalation only the
// emergency policy's approvers count.
func (r *Request) countFor(p Policy) int {
	n := 0
	for _, a := range r.Approvals {
		if p.allows(Principal{User: a.By, Role: a.Role}) {
			n++
		}
	}
	return n
}

// allows reports whether who is an approver under p.
func (p Policy) allows(who Principal) bool {
	return slices.Contains(p.Approvers, "user:"+who.User) || (who.Role != "" && slices.Contains(p.Approvers, "role:"+who.Role))
}

// CanApprove reports whether who may approve r now (for showing buttons).
func CanApprove(ent Entitlement, r Request, who Principal) bool {
	return r.check(ent, who) == nil
}

func (r *Request) check(ent Entitlement, who Principal) error {
	if r.State != Pending {
		return fmt.Errorf("%w: %s", ErrState, r.State)
	}
	p := ent.policy(r.Emergency)
	if !p.allows(who) {
		return ErrNotApprover
	}
	if who.User == r.Requester && !p.AllowSelfApproval {
		return ErrSelfApproval
	}
	for _, a := range r.Approvals {
		if a.By == who.User {
			return ErrAlreadyApproved
		}
	}
	return nil
}

// Approve records who's approval; the request is granted once its policy
// has enough.
func (r *Request) Approve(ent Entitlement, who Principal, comment string, now time.Time) error {
	if err := r.check(ent, who); err != nil {
		return err
	}
	r.Approvals = append(r.Approvals, Approval{By: who.User, Role: who.Role, At: now, Comment: comment})
	r.settle(ent.policy(r.Emergency), now)
	return nil
}

// Deny refuses the request; one approver's no is final.
func (r *Request) Deny(ent Entitlement, who Principal, comment string, now time.Time) error {
	if err := r.check(ent, who); err != nil && err != ErrAlreadyApproved {
		return err
	}
	r.State, r.DecidedAt, r.DecidedBy, r.Comment = Denied, now, who.User, comment
	return nil
}

// Escalate switches an open request to the emergency policy. Approvals
// already given still count if the emergency policy accepts their approver;
// an auto-approving emergency policy grants at once.
func (r *Request) Escalate(ent Entitlement, who Principal, now time.Time) error {
	if r.State != Pending {
		return fmt.Errorf("%w: %s", ErrState, r.State)
	}
	if who.User != r.Requester {
		return ErrNotRequester
	}
	if ent.Emergency == nil {
		return ErrNoEmergency
	}
	if r.Emergency {
		return fmt.Errorf("%w: already an emergency request", ErrState)
	}
	p := *ent.Emergency
	if r.Duration > p.MaxDuration {
		return fmt.Errorf("%w: %s > %s", ErrTooLong, r.Duration, p.MaxDuration)
	}
	if p.JustificationRequired && r.Justification == "" {
		return ErrJustification
	}
	r.Emergency = true
	r.settle(p, now)
	return nil
}

// Cancel withdraws an open request (its requester only).
func (r *Request) Cancel(who Principal, now time.Time) error {
	if r.State != Pending {
		return fmt.Errorf("%w: %s", ErrState, r.State)
	}
	if who.User != r.Requester {
		return ErrNotRequester
	}
	r.State, r.DecidedAt, r.DecidedBy = Cancelled, now, who.User
	return nil
}

// Revoke ends a grant early.
func (r *Request) Revoke(who Principal, comment string, now time.Time) error {
	if !r.Active(now) {
		return fmt.Errorf("%w: %s", ErrState, r.State)
	}
	r.State, r.DecidedAt, r.DecidedBy, r.Comment = Revoked, now, who.User, comment
	return nil
}

// Active reports whether r grants its entitlement at now.
func (r *Request) Active(now time.Time) bool {
	return r.State == Approved && now.Before(r.ExpiresAt)
}

// Expire moves a grant past its end, or an open request older than
// pendingTTL, to Expired; it reports whether r changed.
func (r *Request) Expire(now time.Time, pendingTTL time.Duration) bool {
	switch {
	case r.State == Approved && !now.Before(r.ExpiresAt):
	case r.State == Pending && pendingTTL > 0 && !now.Before(r.CreatedAt.Add(pendingTTL)):
	default:
		return false
	}
	r.State = Expired
	return true
}

// Review closes an emergency grant's mandatory review.
func (r *Request) Review(who Principal, now time.Time) error {
	if !r.NeedsReview {
		return ErrNoReview
	}
	if who.User == r.Requester {
		return ErrSelfApproval
	}
	r.NeedsReview, r.ReviewedBy, r.ReviewedAt = false, who.User, now
	return nil
}
