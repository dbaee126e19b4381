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
//
// plus elevation.orphan_removed and elevation.revoke_failed for the record.

// Bounds of an elevation event.
const (
	MaxElevationArgs   = 65 // arguments kept of a command line (the agent adds "…(N more)")
	MaxElevationArgLen = 300
	MaxElevationExeLen = 1024
	// MaxElevationMinutes is the longest elevation a code can carry.
	MaxElevationMinutes = 640
)

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
	}{{"user", e.User, 64}, {"reason", e.Reason, 64}, {"error", e.Error, 512}} {
		if err := validText(f.name, f.v, f.max); err != nil {
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
	if r.Minutes < 5 || r.Minutes > MaxElevationMinutes || r.Minutes%5 != 0 {
		return invalid("minutes must be a multiple of 5 between 5 and %d", MaxElevationMinutes)
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
