package mfa

import "errors"

// Errors matched with errors.Is. The API should show users one generic
// message for all code failures and audit the specific one.
var (
	// ErrInvalidCode reports a malformed or wrong TOTP or recovery code.
	ErrInvalidCode = errors.New("mfa: invalid code")
	// ErrReplayed reports a TOTP code for a time step at or before the last
	// accepted one: a code works once only, even inside the skew window.
	ErrReplayed = errors.New("mfa: code already used")
	// ErrNotEnrolled reports a user without a confirmed TOTP enrollment.
	ErrNotEnrolled = errors.New("mfa: not enrolled")
	// ErrAlreadyEnrolled refuses a second enrollment over a confirmed one;
	// an admin Reset comes first, so a stolen session cannot swap the
	// authenticator quietly.
	ErrAlreadyEnrolled = errors.New("mfa: already enrolled")
	// ErrInvalidPending reports a Pending enrollment that belongs to another
	// user or carries a malformed or too short secret.
	ErrInvalidPending = errors.New("mfa: invalid pending enrollment")
	// ErrLocked reports a key (account or address) that must wait before its
	// next attempt.
	ErrLocked = errors.New("mfa: too many failed attempts, try again later")
	// ErrStepUpRequired reports that the last TOTP verification is missing
	// or older than the step-up window.
	ErrStepUpRequired = errors.New("mfa: fresh verification required")
	// ErrConfig reports a Manager built without its store or box.
	ErrConfig = errors.New("mfa: invalid config")
)
