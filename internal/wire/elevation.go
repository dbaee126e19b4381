package wire

import (
	"bytes"
	"encoding/json"
	"time"
)

// Temporary admin codes (elevation). The broker issues a code for a device
// (internal/elevcode); the agent verifies it offline and reports what
// happened through its outbox as agent events of the "elevation" area,
// whose Data is an ElevationEvent:
//
//	elevation.granted       session_id, user, until, code_issued_at, code_nonce
//	elevation.expired       session_id, user, until       (rights removed on time)
//	elevation.revoked       session_id, user              (removed early)
//	elevation.recovered     session_id, user              (an interrupted grant rolled back)
//	elevation.denied        user, reason, error           (wrong, used, expired code; rate limited)
//	elevation.process_start session_id, user, process     (a program first seen running elevated)
//	elevation.process_exec  session_id, user, process     (a recorded process ran another program)
//	elevation.process_exit  session_id, user, process     (it is gone)
//	elevation.requested     request_id, user, note        (the end user asks for a code)
//
// plus elevation.orphan_removed and elevation.revoke_failed for the record.
// A grant without a code (self_approved, note) is an elevation.granted too.
//
// Broker → agent:
//
//	elevation_policy  {self_approve_groups, max_minutes}  (at connect and when the settings change)
//	elevation_code    {request_id, user, code, by}        (an approved request: redeem this code for user)
//	elevation_request_result {request_id, status, message, by} (a request denied or expired: tell the user)
func init() {
	register(
		func() Message { return &ElevationPolicy{} },
		func() Message { return &ElevationRequestCode{} },
		func() Message { return &ElevationRequestResult{} },
	)
}

// Bounds of an elevation event.
const (
	MaxElevationArgs   = 65 // arguments kept of a command line (the agent adds "…(N more)")
	MaxElevationArgLen = 300
	MaxElevationExeLen = 1024
	// MaxElevationMinutes is the longest elevation a code can carry.
	MaxElevationMinutes = 640
	// MaxElevationNote bounds an end user's reason.
	MaxElevationNote = 500
	// maxPolicyGroups bounds the self-approving groups.
	maxPolicyGroups = 64
)

// ElevationPolicy tells an agent the elevation settings that apply to it.
type ElevationPolicy struct {
	// SelfApproveGroups are local group names whose members may elevate
	// themselves after giving a reason, without a code.
	SelfApproveGroups []string `json:"self_approve_groups"`
	// MaxMinutes is how long a self-approved elevation lasts.
	MaxMinutes int `json:"max_minutes"`
}

func (*ElevationPolicy) Type() string { return "elevation_policy" }
func (m *ElevationPolicy) Validate() error {
	if m.MaxMinutes < 5 || m.MaxMinutes > MaxElevationMinutes {
		return invalid("max_minutes must be 5..%d", MaxElevationMinutes)
	}
	if len(m.SelfApproveGroups) > maxPolicyGroups {
		return invalid("more than %d groups", maxPolicyGroups)
	}
	for _, g := range m.SelfApproveGroups {
		if g == "" {
			return invalid("empty group name")
		}
		if err := validText("group", g, 64); err != nil {
			return err
		}
	}
	return nil
}

// ElevationRequestCode delivers the code of an approved request to the
// agent, which redeems it for User (the code is bound to that user).
type ElevationRequestCode struct {
	RequestID string `json:"request_id"`
	User      string `json:"user"`
	Code      string `json:"code"`
	By        string `json:"by,omitempty"` // the portal user who approved
}

func (*ElevationRequestCode) Type() string { return "elevation_code" }
func (m *ElevationRequestCode) Validate() error {
	if err := validID(m.RequestID); err != nil {
		return err
	}
	if m.User == "" {
		return invalid("user required")
	}
	if err := validText("user", m.User, 64); err != nil {
		return err
	}
	if m.Code == "" || len(m.Code) > 64 {
		return invalid("code required")
	}
	if err := validText("by", m.By, 128); err != nil {
		return err
	}
	return validText("code", m.Code, 64)
}

// ElevationRequestResult tells the agent that an end user's elevation
// request was denied or expired, so the user hears of it; an approval
// arrives as an ElevationRequestCode instead.
type ElevationRequestResult struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"` // RequestDenied or RequestExpired
	Message   string `json:"message,omitempty"`
	By        string `json:"by,omitempty"`
	// RequestedAt is when the end user asked, for an outcome told late.
	RequestedAt time.Time `json:"requested_at,omitzero"`
}

func (*ElevationRequestResult) Type() string { return "elevation_request_result" }
func (m *ElevationRequestResult) Validate() error {
	if err := validID(m.RequestID); err != nil {
		return err
	}
	if m.Status != RequestDenied && m.Status != RequestExpired {
		return invalid("status must be denied or expired")
	}
	if err := validText("by", m.By, 128); err != nil {
		return err
	}
	return validText("message", m.Message, 1024)
}

// validMinutes bounds an elevation length: what a code can carry.
func validMinutes(m int) error {
	if m < 5 || m > MaxElevationMinutes || m%5 != 0 {
		return invalid("minutes must be a multiple of 5 between 5 and %d", MaxElevationMinutes)
	}
	return nil
}

// ElevationEvent is the data of an "elevation.*" agent event.
type ElevationEvent struct {
	SessionID string    `json:"session_id,omitempty"`
	User      string    `json:"user"`
	Until     time.Time `json:"until,omitzero"`
	// Reason and Error say why a code was refused (elevation.denied).
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// CodeIssuedAt and CodeNonce identify the redeemed code (granted) the
	// way the broker's audit record of its issue does; never the code.
	CodeIssuedAt time.Time           `json:"code_issued_at,omitzero"`
	CodeNonce    *int                `json:"code_nonce,omitempty"`
	Process      *ElevationProcessed `json:"process,omitempty"`
	// RequestID names an end user's request (elevation.requested) or the
	// approved request a grant came from.
	RequestID string `json:"request_id,omitempty"`
	// Note is the end user's reason (a request, a self-approved grant).
	Note string `json:"note,omitempty"`
	// SelfApproved marks a grant without a code, allowed by the
	// elevation.self_approve_groups setting.
	SelfApproved bool `json:"self_approved,omitempty"`
}

// ElevationProcessed is a process that ran with effective uid 0 on behalf
// of the elevated user.
type ElevationProcessed struct {
	PID      int    `json:"pid"`
	PPID     int    `json:"ppid"`
	UID      int    `json:"uid"`
	EUID     int    `json:"euid"`
	LoginUID int    `json:"loginuid"`
	Exe      string `json:"exe"`
	// Args is the command line, secrets redacted by the agent's pattern.
	Args      []string  `json:"args"`
	StartedAt time.Time `json:"started_at,omitzero"`
}

// Validate bounds the fields; which are required depends on the kind and is
// the broker hook's business.
func (e *ElevationEvent) Validate() error {
	if e.SessionID != "" {
		if err := validID(e.SessionID); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"user", e.User, 64}, {"reason", e.Reason, 64}, {"error", e.Error, 512}, {"note", e.Note, MaxElevationNote}} {
		if err := validText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if e.RequestID != "" {
		if err := validID(e.RequestID); err != nil {
			return err
		}
	}
	if e.CodeNonce != nil && (*e.CodeNonce < 0 || *e.CodeNonce > 1<<16) {
		return invalid("code_nonce out of range")
	}
	if p := e.Process; p != nil {
		if p.PID <= 0 || p.PPID < 0 || p.PID > 1<<30 || p.PPID > 1<<30 {
			return invalid("process ids out of range")
		}
		if err := validText("exe", p.Exe, MaxElevationExeLen); err != nil {
			return err
		}
		if len(p.Args) > MaxElevationArgs {
			return invalid("more than %d arguments", MaxElevationArgs)
		}
		for _, a := range p.Args {
			// Arguments may hold anything but must stay bounded UTF-8.
			if err := validText("argument", stripControls(a), MaxElevationArgLen); err != nil {
				return err
			}
		}
	}
	return nil
}

// stripControls maps control characters to spaces for validation only:
// command lines legitimately contain tabs and newlines.
func stripControls(s string) string {
	return string(bytes.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, []byte(s)))
}

// DecodeElevationEvent is the one decoder of elevation event data.
func DecodeElevationEvent(data []byte) (ElevationEvent, error) {
	var e ElevationEvent
	if len(data) == 0 {
		return e, invalid("elevation event without data")
	}
	if err := DecodeJSON(bytes.NewReader(data), MaxAgentEventData, &e); err != nil {
		return ElevationEvent{}, err
	}
	return e, nil
}

// ElevationCodeRequest is POST /api/devices/{id}/elevation-codes.
type ElevationCodeRequest struct {
	// User is the local user who may redeem the code; "" means any user.
	User string `json:"user"`
	// Minutes is the elevation length: a multiple of 5 up to the
	// elevation.max_minutes setting.
	Minutes int `json:"minutes"`
}

// Validate bounds the fields.
func (r *ElevationCodeRequest) Validate() error {
	if err := validMinutes(r.Minutes); err != nil {
		return err
	}
	if r.User == "" {
		return nil
	}
	if len(r.User) > 64 || r.User[0] == '-' || r.User[0] == '.' {
		return invalid("user must be a local user name (at most 64 characters)")
	}
	for _, c := range r.User {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '@') {
			return invalid("user may use letters, digits and . - _ @")
		}
	}
	return nil
}

// ElevationCode answers an issued code. Code is shown once and stored
// nowhere.
type ElevationCode struct {
	Code       string    `json:"code"`
	DeviceID   string    `json:"device_id"`
	User       string    `json:"user"` // "" = any user
	Minutes    int       `json:"minutes"`
	Nonce      int       `json:"nonce"`
	IssuedAt   time.Time `json:"issued_at"`
	ValidUntil time.Time `json:"valid_until"`
}

// MarshalElevationEvent encodes e for an agent event, dropping trailing
// arguments (marked "…") until it fits in MaxAgentEventData.
func MarshalElevationEvent(e ElevationEvent) (json.RawMessage, error) {
	if e.Process == nil {
		return json.Marshal(e)
	}
	args := e.Process.Args
	for n := len(args); ; n-- {
		p := *e.Process
		p.Args = args[:n:n]
		if n < len(args) {
			p.Args = append(p.Args, "…")
		}
		e.Process = &p
		b, err := json.Marshal(e)
		if err != nil || len(b) <= MaxAgentEventData || n == 0 {
			return b, err
		}
	}
}
