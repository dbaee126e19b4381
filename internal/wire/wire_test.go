package wire

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	msgs := []Message{
		&Challenge{Nonce: bytes.Repeat([]byte{7}, NonceSize)},
		&Hello{DeviceID: "dev-1", Signature: make([]byte, ed25519.SignatureSize), AgentVersion: "1.0",
			Inventory: Inventory{Hostname: "h", OS: "Debian", Arch: "amd64", User: "ann", Displays: []Display{{Index: 0, Width: 1920, Height: 1080, Primary: true}}, Capture: "x11-shm"}},
		&Welcome{HeartbeatSeconds: 15},
		&Error{Code: CodeRevoked, Message: "revoked"},
		&Heartbeat{},
		&Inventory{Hostname: "h"},
		&SessionExpiry{SessionID: "s1", ExpiresAt: time.Date(2026, 1, 1, 10, 3, 0, 0, time.UTC), RemainingSeconds: 120, Warning: true},
		&ElevationPolicy{SelfApproveGroups: []string{"helpdesk-self", "DOMAIN\\admins"}, MaxMinutes: 60},
		&ElevationRequestCode{RequestID: "r1", User: "ann", Code: "ABCD-EFGH-JKMN", By: "tech"},
		&ElevationRequestResult{RequestID: "r1", Status: RequestExpired, Message: "nobody answered"},
		&SupportRequest{RequestID: "r1", Name: "Ann Lee", Email: "ann@example.com", Phone: "+1 (555) 010-0000", Reason: "VPN fails"},
		&SupportRequestResult{RequestID: "r1", Status: RequestDenied, Message: "call the desk", By: "admin"},
		&Settings{Values: map[string]string{"remote_support.allow": "false"}},
	}
	for _, m := range msgs {
		t.Run(m.Type(), func(t *testing.T) {
			b, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"not json", `hello`, ErrMalformed},
		{"request without contact", `{"v":1,"type":"support_request","body":{"request_id":"r1","name":"Ann","email":"","phone":"","reason":"x"}}`, ErrInvalid},
		{"request without reason", `{"v":1,"type":"support_request","body":{"request_id":"r1","name":"Ann","email":"a@b.c","phone":"","reason":" "}}`, ErrInvalid},
		{"request bad email", `{"v":1,"type":"support_request","body":{"request_id":"r1","name":"Ann","email":"Ann <a@b.c>","phone":"","reason":"x"}}`, ErrInvalid},
		{"request bad phone", `{"v":1,"type":"support_request","body":{"request_id":"r1","name":"Ann","email":"","phone":"call me","reason":"x"}}`, ErrInvalid},
		{"result unknown status", `{"v":1,"type":"support_request_result","body":{"request_id":"r1","status":"maybe"}}`, ErrInvalid},
		{"elevation result approved", `{"v":1,"type":"elevation_request_result","body":{"request_id":"r1","status":"approved"}}`, ErrInvalid},
		{"settings empty key", `{"v":1,"type":"settings","body":{"values":{"":"x"}}}`, ErrInvalid},
		{"trailing data", `{"v":1,"type":"heartbeat"} {}`, ErrMalformed},
		{"unknown envelope field", `{"v":1,"type":"heartbeat","x":1}`, ErrMalformed},
		{"wrong version", `{"v":2,"type":"heartbeat"}`, ErrVersion},
		{"missing version", `{"type":"heartbeat"}`, ErrVersion},
		{"unknown type", `{"v":1,"type":"launch_missiles"}`, ErrUnknownType},
		{"unknown body field", `{"v":1,"type":"welcome","body":{"heartbeat_seconds":5,"admin":true}}`, ErrMalformed},
		{"wrong field type", `{"v":1,"type":"welcome","body":{"heartbeat_seconds":"5"}}`, ErrMalformed},
		{"out of range", `{"v":1,"type":"welcome","body":{"heartbeat_seconds":0}}`, ErrInvalid},
		{"short nonce", `{"v":1,"type":"challenge","body":{"nonce":"AAAA"}}`, ErrInvalid},
		{"bad device id", `{"v":1,"type":"hello","body":{"device_id":"../etc","signature":"` + strings.Repeat("A", 86) + `==","agent_version":"1","inventory":{"hostname":"h","os":"","arch":"","user":"","displays":[]}}}`, ErrInvalid},
		{"control chars", `{"v":1,"type":"inventory","body":{"hostname":"a\u0007b","os":"","arch":"","user":"","displays":null}}`, ErrInvalid},
		{"capture method not a token", `{"v":1,"type":"inventory","body":{"hostname":"h","os":"","arch":"","user":"","displays":[],"capture":"GDI BitBlt"}}`, ErrInvalid},
		{"capture method too long", `{"v":1,"type":"inventory","body":{"hostname":"h","os":"","arch":"","user":"","displays":[],"capture":"` + strings.Repeat("x", 33) + `"}}`, ErrInvalid},
		{"display index gap", `{"v":1,"type":"inventory","body":{"hostname":"h","os":"","arch":"","user":"","displays":[{"index":1,"x":0,"y":0,"width":10,"height":10}]}}`, ErrInvalid},
		{"expiry negative", `{"v":1,"type":"session_expiry","body":{"session_id":"s1","expires_at":"2026-01-01T10:03:00Z","remaining_seconds":-1}}`, ErrInvalid},
		{"expiry too far", `{"v":1,"type":"session_expiry","body":{"session_id":"s1","expires_at":"2026-01-01T10:03:00Z","remaining_seconds":999999999}}`, ErrInvalid},
		{"expiry bad id", `{"v":1,"type":"session_expiry","body":{"session_id":"../x","expires_at":"2026-01-01T10:03:00Z","remaining_seconds":5}}`, ErrInvalid},
		{"too large", `{"v":1,"type":"heartbeat","body":{"pad":"` + strings.Repeat("x", MaxFrame) + `"}}`, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeJSONBodies(t *testing.T) {
	tests := []struct {
		name string
		in   string
		v    interface{ Validate() error }
		ok   bool
	}{
		{"login ok", `{"username":"ann","password":"pw"}`, &LoginRequest{}, true},
		{"login empty", `{"username":"","password":"pw"}`, &LoginRequest{}, false},
		{"login extra field", `{"username":"a","password":"b","role":"admin"}`, &LoginRequest{}, false},
		{"token ok", `{"max_uses":1,"expires_in_seconds":3600,"note":""}`, &TokenRequest{}, true},
		{"token zero uses", `{"max_uses":0,"expires_in_seconds":3600}`, &TokenRequest{}, false},
		{"token too long", `{"max_uses":1,"expires_in_seconds":999999999}`, &TokenRequest{}, false},
		{"user bad role", `{"username":"bob","role":"root"}`, &UserRequest{}, false},
		{"user approver", `{"username":"bob","role":"approver"}`, &UserRequest{}, true},
		{"user bad name", `{"username":"b o b","role":"auditor"}`, &UserRequest{}, false},
		{"enroll short key", `{"token":"t","public_key":"AAAA","inventory":{"hostname":"h","os":"","arch":"","user":"","displays":[]}}`, &EnrollRequest{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := DecodeJSON(strings.NewReader(tc.in), 1<<16, tc.v)
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeJSON = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
