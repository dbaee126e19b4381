package wire

import (
	"net/mail"
	"strings"
	"time"
)

// End-user requests and live settings on the agent link:
//
//	agent  → broker support_request        {request_id, name, email, phone, reason}
//	broker → agent  support_request_result {request_id, status, message, by}
//	                (queued at once, or refused; later approved, denied or expired)
//	broker → agent  settings               {values}  (at connect and whenever a setting that applies changes)
func init() {
	register(
		func() Message { return &SupportRequest{} },
		func() Message { return &SupportRequestResult{} },
		func() Message { return &Settings{} },
	)
}

// Outcomes of a support request, in SupportRequestResult.Status.
const (
	RequestQueued   = "queued"   // in the portal's queue, waiting for a decision
	RequestRefused  = "refused"  // not accepted at all (remote support not allowed)
	RequestApproved = "approved" // a session follows (the consent prompt)
	RequestDenied   = "denied"
	RequestExpired  = "expired"
)

// SupportRequest is the end user asking for remote support, with contact
// details and a reason. RequestID is chosen by the agent so the asker can
// follow its outcome.
type SupportRequest struct {
	RequestID string `json:"request_id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
	Reason    string `json:"reason"`
}

func (*SupportRequest) Type() string { return "support_request" }

// Validate requires a name, a reason and at least one way to reach the end
// user (email or phone), and bounds every field.
func (m *SupportRequest) Validate() error {
	if err := validID(m.RequestID); err != nil {
		return err
	}
	return validContact(m.Name, m.Email, m.Phone, m.Reason)
}

// validContact is the one check of end-user contact details and reason.
func validContact(name, email, phone, reason string) error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"name", name, 128}, {"email", email, 254}, {"phone", phone, 40}, {"reason", reason, 1000}} {
		if err := validText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if strings.TrimSpace(name) == "" {
		return invalid("name required")
	}
	if strings.TrimSpace(reason) == "" {
		return invalid("reason required")
	}
	if email == "" && phone == "" {
		return invalid("an email address or a phone number is required")
	}
	if email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			return invalid("email is not an address")
		}
	}
	for _, c := range phone {
		if !(c >= '0' && c <= '9' || strings.ContainsRune("+-() .", c)) {
			return invalid("phone may use digits, spaces and + - ( ) .")
		}
	}
	return nil
}

// SupportRequestResult tells the agent what became of a request.
type SupportRequestResult struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"`
	Message   string `json:"message,omitempty"`
	By        string `json:"by,omitempty"` // the portal user who decided
	// RequestedAt is when the end user asked (final outcomes), so an
	// outcome told late can say which request it is about.
	RequestedAt time.Time `json:"requested_at,omitzero"`
}

func (*SupportRequestResult) Type() string { return "support_request_result" }
func (m *SupportRequestResult) Validate() error {
	if err := validID(m.RequestID); err != nil {
		return err
	}
	switch m.Status {
	case RequestQueued, RequestRefused, RequestApproved, RequestDenied, RequestExpired:
	default:
		return invalid("unknown status %q", truncate(m.Status, 20))
	}
	if err := validText("by", m.By, 128); err != nil {
		return err
	}
	return validText("message", m.Message, 1024)
}

// Final reports whether no further result follows.
func (m *SupportRequestResult) Final() bool { return m.Status != RequestQueued }

// MaxSettings bounds the number of values in a Settings message.
const MaxSettings = 128

// Settings carries the effective settings of the device (key → value), so
// the agent can act on them (the desktop icon, refusing requests early).
// The broker remains the authority; these only shape what the agent offers.
type Settings struct {
	Values map[string]string `json:"values"`
}

func (*Settings) Type() string { return "settings" }
func (m *Settings) Validate() error {
	if len(m.Values) > MaxSettings {
		return invalid("more than %d settings", MaxSettings)
	}
	for k, v := range m.Values {
		if k == "" {
			return invalid("empty setting key")
		}
		if err := validText("setting key", k, 80); err != nil {
			return err
		}
		if err := validText("setting value", v, 1024); err != nil {
			return err
		}
	}
	return nil
}

// GroupRequest is POST /api/groups.
type GroupRequest struct {
	Name string `json:"name"`
}

// Validate bounds the name.
func (r *GroupRequest) Validate() error {
	if strings.TrimSpace(r.Name) == "" {
		return invalid("group name required")
	}
	return validText("name", r.Name, 64)
}

// DeviceGroupRequest is PUT /api/devices/{id}/group; an empty GroupID takes
// the device out of its group.
type DeviceGroupRequest struct {
	GroupID string `json:"group_id"`
}

// Validate checks the id.
func (r *DeviceGroupRequest) Validate() error {
	if r.GroupID == "" {
		return nil
	}
	return validID(r.GroupID)
}

// DecisionRequest is POST /api/requests/{id}/approve and /deny.
type DecisionRequest struct {
	Comment string `json:"comment,omitempty"`
	// Minutes is how long an approved elevation request lasts (required
	// to approve one; the device's elevation.max_minutes bounds it).
	Minutes int `json:"minutes,omitempty"`
}

// Validate bounds the comment and the minutes.
func (r *DecisionRequest) Validate() error {
	if r.Minutes != 0 {
		if err := validMinutes(r.Minutes); err != nil {
			return err
		}
	}
	return validText("comment", r.Comment, 500)
}
