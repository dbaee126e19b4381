package mfa

import "time"

// DefaultStepUpWindow is how recent a TOTP verification must be before a
// remote support session starts, unless settings say otherwise.
const DefaultStepUpWindow = 10 * time.Minute

// StepUp decides whether the last TOTP verification of a web session is
// fresh enough for a sensitive action (starting a remote support session),
// like per-session MFA in PAM products. The caller keeps the time of the
// session's last successful Verify and passes it in.
type StepUp struct {
	// Window is the longest accepted age (DefaultStepUpWindow when zero).
	Window time.Duration
}

// Fresh reports whether lastVerified is within the window before now. A
// zero time (never verified) or a time in the future is not fresh.
func (s StepUp) Fresh(lastVerified, now time.Time) bool {
	w := s.Window
	if w <= 0 {
		w = DefaultStepUpWindow
	}
	return !lastVerified.IsZero() && !lastVerified.After(now) && now.Sub(lastVerified) < w
}

// Check returns ErrStepUpRequired unless lastVerified is fresh.
func (s StepUp) Check(lastVerified, now time.Time) error {
	if !s.Fresh(lastVerified, now) {
		return ErrStepUpRequired
	}
	return nil
}
