package policy

import "errors"

// Errors a caller maps to HTTP statuses (409 for state, 403 for who, 400
// for what was asked).
var (
	ErrInvalid         = errors.New("policy: invalid request")
	ErrNoEmergency     = errors.New("policy: emergency access is not enabled for this entitlement")
	ErrTooLong         = errors.New("policy: duration exceeds the policy's maximum")
	ErrJustification   = errors.New("policy: a justification is required")
	ErrNotApprover     = errors.New("policy: not an approver under this request's policy")
	ErrSelfApproval    = errors.New("policy: requesters cannot approve their own request")
	ErrAlreadyApproved = errors.New("policy: already approved by this user")
	ErrState           = errors.New("policy: not possible in the request's current state")
	ErrNotRequester    = errors.New("policy: only the requester can do this")
	ErrNoReview        = errors.New("policy: this grant does not need review")
)
