package wire

import (
	"crypto/ed25519"
	"unicode/utf8"
)

// Messages of the agent control link, in the order they flow:
//
//	broker → agent  challenge {nonce}
//	agent  → broker hello     {device_id, signature, agent_version, inventory}
//	broker → agent  welcome   {heartbeat_seconds}  or error {code, message} then close
//	agent  → broker heartbeat {} (the broker answers each with a heartbeat), inventory {…}
func init() {
	register(
		func() Message { return &Challenge{} },
		func() Message { return &Hello{} },
		func() Message { return &Welcome{} },
		func() Message { return &Error{} },
		func() Message { return &Heartbeat{} },
		func() Message { return &Inventory{} },
	)
}

// NonceSize is the length of a broker challenge nonce.
const NonceSize = 32

// AuthContext is prepended to what an agent signs, so a signature made for
// this purpose can never be replayed as anything else.
const AuthContext = "porthole-agent-auth-v1\n"

// Challenge is the broker's first frame on an agent link.
type Challenge struct {
	Nonce []byte `json:"nonce"`
}

func (*Challenge) Type() string { return "challenge" }
func (m *Challenge) Validate() error {
	if len(m.Nonce) != NonceSize {
		return invalid("nonce must be %d bytes", NonceSize)
	}
	return nil
}

// SignedPayload is the byte string an agent signs to answer a challenge.
func SignedPayload(nonce []byte, deviceID string) []byte {
	b := make([]byte, 0, len(AuthContext)+len(nonce)+len(deviceID))
	b = append(b, AuthContext...)
	b = append(b, nonce...)
	return append(b, deviceID...)
}

// Hello answers a challenge.
type Hello struct {
	DeviceID     string    `json:"device_id"`
	Signature    []byte    `json:"signature"`
	AgentVersion string    `json:"agent_version"`
	Inventory    Inventory `json:"inventory"`
}

func (*Hello) Type() string { return "hello" }
func (m *Hello) Validate() error {
	if err := validID(m.DeviceID); err != nil {
		return err
	}
	if len(m.Signature) != ed25519.SignatureSize {
		return invalid("signature must be %d bytes", ed25519.SignatureSize)
	}
	if err := validText("agent_version", m.AgentVersion, 64); err != nil {
		return err
	}
	return m.Inventory.Validate()
}

// Welcome tells an authenticated agent how often to send heartbeats.
type Welcome struct {
	HeartbeatSeconds int `json:"heartbeat_seconds"`
}

func (*Welcome) Type() string { return "welcome" }
func (m *Welcome) Validate() error {
	if m.HeartbeatSeconds < 1 || m.HeartbeatSeconds > 300 {
		return invalid("heartbeat_seconds out of range")
	}
	return nil
}

// Error codes sent to peers before the broker closes a link.
const (
	CodeBadRequest       = "bad_request"
	CodeAuthFailed       = "auth_failed"
	CodeRevoked          = "revoked"
	CodeAlreadyConnected = "already_connected"
	CodeInternal         = "internal"
)

// Error reports a refused request with a stable code and a human message.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (*Error) Type() string { return "error" }
func (m *Error) Validate() error {
	if err := validText("code", m.Code, 64); err != nil || m.Code == "" {
		return invalid("code required")
	}
	return validText("message", m.Message, 1024)
}

// Heartbeat keeps the link alive and updates "last seen".
type Heartbeat struct{}

func (*Heartbeat) Type() string    { return "heartbeat" }
func (*Heartbeat) Validate() error { return nil }

// Display is one monitor of the endpoint.
type Display struct {
	Index   int  `json:"index"`
	X       int  `json:"x"`
	Y       int  `json:"y"`
	Width   int  `json:"width"`
	Height  int  `json:"height"`
	Primary bool `json:"primary,omitempty"`
}

// Inventory describes the endpoint; it is sent in Hello and whenever it changes.
type Inventory struct {
	Hostname string    `json:"hostname"`
	OS       string    `json:"os"`
	Arch     string    `json:"arch"`
	User     string    `json:"user"`
	Displays []Display `json:"displays"`
	// Policy is what the endpoint itself allows, whatever the broker says
	// (nil from agents before endpoint policies).
	Policy *AgentPolicy `json:"policy,omitempty"`
	// Capture is how the agent captures the screen: "x11-shm" (Linux),
	// "dxgi" (Windows Desktop Duplication) or "gdi" (Windows GDI BitBlt);
	// empty when unknown (agents before it) or when nothing can capture.
	// At most 32 bytes of [a-z0-9-].
	Capture string `json:"capture,omitempty"`
}

// AgentPolicy is the endpoint's own floor, set where the agent is
// installed (flag or config file) and never by the broker.
type AgentPolicy struct {
	// Unattended is UnattendedDeny (the default) or UnattendedAllow:
	// whether a session may skip the end user's consent prompt.
	Unattended string `json:"unattended"`
}

func (*Inventory) Type() string { return "inventory" }
func (m *Inventory) Validate() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"hostname", m.Hostname, 255}, {"os", m.OS, 128}, {"arch", m.Arch, 32}, {"user", m.User, 128}} {
		if err := validText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if len(m.Displays) > 16 {
		return invalid("too many displays")
	}
	if !validToken(m.Capture, 32) {
		return invalid("capture method must be at most 32 bytes of [a-z0-9-]")
	}
	if m.Policy != nil && m.Policy.Unattended != UnattendedDeny && m.Policy.Unattended != UnattendedAllow {
		return invalid("policy.unattended must be %q or %q", UnattendedDeny, UnattendedAllow)
	}
	for i, d := range m.Displays {
		if d.Index != i || d.Width <= 0 || d.Height <= 0 || d.Width > 16384 || d.Height > 16384 ||
			d.X < -65536 || d.X > 65536 || d.Y < -65536 || d.Y > 65536 {
			return invalid("display %d out of range", i)
		}
	}
	return nil
}

// ValidID reports whether id is one the broker hands out (devices, groups,
// sessions, requests): 1–64 of [A-Za-z0-9_-].
func ValidID(id string) bool { return validID(id) == nil }

// validID accepts the ids the broker hands out: 1–64 of [A-Za-z0-9_-].
func validID(id string) error {
	if len(id) == 0 || len(id) > 64 {
		return invalid("id length")
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return invalid("id has character %q", c)
		}
	}
	return nil
}

// validText bounds a free-text field and refuses invalid UTF-8 and control characters.
// validToken reports whether s is a short lower-case name: at most max
// bytes of [a-z0-9-] (empty is fine).
func validToken(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

func validText(name, s string, max int) error {
	if len(s) > max {
		return invalid("%s longer than %d bytes", name, max)
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not UTF-8", name)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalid("%s has control characters", name)
		}
	}
	return nil
}
