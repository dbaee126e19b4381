package wire

import "time"

// Remote-support session messages on the agent link, in the order they flow:
//
//	broker → agent  session_start {session_id, requester, view_only, consent, consent_timeout_seconds, display}
//	agent  → broker consent       {session_id, answer}
//	broker → agent  sdp_offer     {session_id, sdp}      (only after consent was granted)
//	agent  → broker sdp_answer    {session_id, sdp}
//	either side     session_end   {session_id, reason}
//	broker → agent  session_update {session_id, view_only, display}
//	broker → agent  session_expiry {session_id, expires_at, remaining_seconds, warning}
func init() {
	register(
		func() Message { return &SessionStart{} },
		func() Message { return &Consent{} },
		func() Message { return &SDPOffer{} },
		func() Message { return &SDPAnswer{} },
		func() Message { return &SessionEnd{} },
		func() Message { return &SessionUpdate{} },
		func() Message { return &SessionExpiry{} },
	)
}

// Consent modes for SessionStart.
const (
	ConsentRequired   = "required"   // ask the end user
	ConsentUnattended = "unattended" // settings allow access without asking (servers)
)

// Consent answers.
const (
	AnswerAllowed    = "allowed"
	AnswerDeclined   = "declined"
	AnswerTimedOut   = "timed_out"
	AnswerUnattended = "unattended"
	AnswerBusy       = "busy"  // another session is running on the endpoint
	AnswerError      = "error" // the prompt could not be shown: treated as declined
	// AnswerRefusedByPolicy: the session asked to skip the end user's
	// consent, and the endpoint's own policy (set on the endpoint, not by
	// the broker) does not allow unattended access.
	AnswerRefusedByPolicy = "refused_by_policy"
)

// UnattendedRefused is what the broker and the agent say of a session the
// endpoint's policy refused to run unattended.
const UnattendedRefused = "unattended refused by the endpoint's policy"

// Endpoint unattended-access policies (AgentPolicy.Unattended).
const (
	UnattendedDeny  = "deny"
	UnattendedAllow = "allow"
)

// MaxSDP bounds an SDP body; real ones are a few kB.
const MaxSDP = 64 << 10

// SessionStart asks the agent to prepare a session and obtain consent.
type SessionStart struct {
	SessionID             string `json:"session_id"`
	Requester             string `json:"requester"`
	ViewOnly              bool   `json:"view_only"`
	Consent               string `json:"consent"`
	ConsentTimeoutSeconds int    `json:"consent_timeout_seconds"`
	Display               int    `json:"display"`
}

func (*SessionStart) Type() string { return "session_start" }
func (m *SessionStart) Validate() error {
	if err := validID(m.SessionID); err != nil {
		return err
	}
	if m.Requester == "" {
		return invalid("requester required")
	}
	if err := validText("requester", m.Requester, 128); err != nil {
		return err
	}
	if m.Consent != ConsentRequired && m.Consent != ConsentUnattended {
		return invalid("consent must be %q or %q", ConsentRequired, ConsentUnattended)
	}
	if m.ConsentTimeoutSeconds < 5 || m.ConsentTimeoutSeconds > 600 {
		return invalid("consent_timeout_seconds must be 5..600")
	}
	return validDisplay(m.Display)
}

// Consent is the end user's answer (or the policy's).
type Consent struct {
	SessionID string `json:"session_id"`
	Answer    string `json:"answer"`
	Detail    string `json:"detail,omitempty"`
}

func (*Consent) Type() string { return "consent" }
func (m *Consent) Validate() error {
	if err := validID(m.SessionID); err != nil {
		return err
	}
	switch m.Answer {
	case AnswerAllowed, AnswerDeclined, AnswerTimedOut, AnswerUnattended, AnswerBusy, AnswerError, AnswerRefusedByPolicy:
	default:
		return invalid("unknown answer %q", truncate(m.Answer, 20))
	}
	return validText("detail", m.Detail, 256)
}

// Granted reports whether media may flow.
func (m *Consent) Granted() bool { return m.Answer == AnswerAllowed || m.Answer == AnswerUnattended }

// SDPOffer carries the broker's complete (non-trickle) offer.
type SDPOffer struct {
	SessionID string `json:"session_id"`
	SDP       string `json:"sdp"`
}

func (*SDPOffer) Type() string      { return "sdp_offer" }
func (m *SDPOffer) Validate() error { return validSDP(m.SessionID, m.SDP) }

// SDPAnswer carries the agent's complete answer.
type SDPAnswer struct {
	SessionID string `json:"session_id"`
	SDP       string `json:"sdp"`
}

func (*SDPAnswer) Type() string      { return "sdp_answer" }
func (m *SDPAnswer) Validate() error { return validSDP(m.SessionID, m.SDP) }

func validSDP(id, sdp string) error {
	if err := validID(id); err != nil {
		return err
	}
	if len(sdp) < 10 || len(sdp) > MaxSDP {
		return invalid("sdp size")
	}
	if len(sdp) < 4 || sdp[:4] != "v=0\r" && sdp[:4] != "v=0\n" {
		return invalid("sdp must start with v=0")
	}
	return nil
}

// SessionEnd ends a session; either side may send it.
type SessionEnd struct {
	SessionID string `json:"session_id"`
	Reason    string `json:"reason"`
}

func (*SessionEnd) Type() string { return "session_end" }
func (m *SessionEnd) Validate() error {
	if err := validID(m.SessionID); err != nil {
		return err
	}
	if m.Reason == "" {
		return invalid("reason required")
	}
	return validText("reason", m.Reason, 256)
}

// SessionUpdate changes a running session's mode or display.
type SessionUpdate struct {
	SessionID string `json:"session_id"`
	ViewOnly  bool   `json:"view_only"`
	Display   int    `json:"display"`
}

func (*SessionUpdate) Type() string { return "session_update" }
func (m *SessionUpdate) Validate() error {
	if err := validID(m.SessionID); err != nil {
		return err
	}
	return validDisplay(m.Display)
}

// MaxExpirySeconds bounds remaining_seconds: a week, far above any setting
// plus extensions, so a corrupt value cannot overflow a timer.
const MaxExpirySeconds = 7 * 24 * 3600

// SessionExpiry tells the agent when the broker will end the session, so the
// end user's indicator can show it. The broker owns the timer; the agent
// only displays it. RemainingSeconds is authoritative (the two clocks may
// disagree); ExpiresAt is the broker's wall-clock time, for the record.
// Warning is set once the session is inside its final countdown.
type SessionExpiry struct {
	SessionID        string    `json:"session_id"`
	ExpiresAt        time.Time `json:"expires_at"`
	RemainingSeconds int       `json:"remaining_seconds"`
	Warning          bool      `json:"warning,omitempty"`
}

func (*SessionExpiry) Type() string { return "session_expiry" }
func (m *SessionExpiry) Validate() error {
	if err := validID(m.SessionID); err != nil {
		return err
	}
	if m.RemainingSeconds < 0 || m.RemainingSeconds > MaxExpirySeconds {
		return invalid("remaining_seconds must be 0..%d", MaxExpirySeconds)
	}
	return nil
}

func validDisplay(d int) error {
	if d < 0 || d > 15 {
		return invalid("display must be 0..15")
	}
	return nil
}
