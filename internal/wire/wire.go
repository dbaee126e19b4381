// Package wire holds the versioned messages the broker, agents and browsers
// exchange over websockets, and the one strict decoder for each of them.
//
// Every message travels in an Envelope {"v":1,"type":"…","body":{…}}. Decode
// refuses unknown versions, unknown types, unknown fields, oversized frames
// and bodies whose values are out of range, so the rest of the code only
// ever sees validated messages.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Version is the protocol version spoken by this build.
const Version = 1

// MaxFrame bounds a websocket frame; larger frames are refused unread.
const MaxFrame = 256 << 10

// Errors returned by Decode, matched with errors.Is.
var (
	ErrTooLarge    = errors.New("wire: message too large")
	ErrMalformed   = errors.New("wire: malformed message")
	ErrVersion     = errors.New("wire: unsupported protocol version")
	ErrUnknownType = errors.New("wire: unknown message type")
	ErrInvalid     = errors.New("wire: invalid message")
)

// Message is implemented by every body type.
type Message interface {
	// Type is the envelope type string.
	Type() string
	// Validate reports out-of-range or missing values.
	Validate() error
}

// Envelope is the outer frame of every websocket message.
type Envelope struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	Body json.RawMessage `json:"body,omitempty"`
}

// registry maps a type string to a constructor of its zero body.
var registry = map[string]func() Message{}

func register(fs ...func() Message) {
	for _, f := range fs {
		t := f().Type()
		if _, dup := registry[t]; dup {
			panic("wire: duplicate type " + t)
		}
		registry[t] = f
	}
}

// Encode wraps m in an envelope. It validates m first so that a bug on the
// sending side is caught where it happens, not at the peer.
func Encode(m Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	return json.Marshal(Envelope{V: Version, Type: m.Type(), Body: body})
}

// Decode parses and validates one frame.
func Decode(data []byte) (Message, error) {
	if len(data) > MaxFrame {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	var env Envelope
	if err := strictUnmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.V != Version {
		return nil, fmt.Errorf("%w: %d", ErrVersion, env.V)
	}
	newMsg, ok := registry[env.Type]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, truncate(env.Type, 40))
	}
	m := newMsg()
	body := env.Body
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := strictUnmarshal(body, m); err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrMalformed, env.Type, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", env.Type, err)
	}
	return m, nil
}

// DecodeJSON strictly decodes a JSON document (an HTTP body, say) into v,
// refusing unknown fields and trailing data.
func DecodeJSON(r io.Reader, limit int64, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if int64(len(data)) > limit {
		return ErrTooLarge
	}
	if err := strictUnmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m, ok := v.(interface{ Validate() error }); ok {
		return m.Validate()
	}
	return nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
