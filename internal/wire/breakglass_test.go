package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBreakGlassMessages(t *testing.T) {
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		m    Message
		ok   bool
	}{
		{"create", &BreakGlassCreate{GrantID: "g1", Requester: "alice", ExpiresAt: at, UseWithinSeconds: 900}, true},
		{"create without requester", &BreakGlassCreate{GrantID: "g1", ExpiresAt: at}, false},
		{"create negative window", &BreakGlassCreate{GrantID: "g1", Requester: "a", ExpiresAt: at, UseWithinSeconds: -1}, false},
		{"create no expiry", &BreakGlassCreate{GrantID: "g1", Requester: "a"}, false},
		{"created", &BreakGlassCreated{GrantID: "g1", Username: "ph-ab12", Password: "pw", CreatedAt: at, ExpiresAt: at}, true},
		{"created uppercase user", &BreakGlassCreated{GrantID: "g1", Username: "Root", Password: "pw", CreatedAt: at, ExpiresAt: at}, false},
		{"created user with slash", &BreakGlassCreated{GrantID: "g1", Username: "a/b", Password: "pw", CreatedAt: at, ExpiresAt: at}, false},
		{"created no password", &BreakGlassCreated{GrantID: "g1", Username: "ph-ab12", CreatedAt: at, ExpiresAt: at}, false},
		{"revoke", &BreakGlassRevoke{GrantID: "g1", Username: "ph-ab12"}, true},
		{"revoke leading digit", &BreakGlassRevoke{GrantID: "g1", Username: "1ph"}, false},
		{"revoked", &BreakGlassRevoked{GrantID: "g1", Username: "ph-ab12"}, true},
		{"failed", &BreakGlassFailed{GrantID: "g1", Op: BreakGlassOpCreate, Error: "no admin group"}, true},
		{"failed bad op", &BreakGlassFailed{GrantID: "g1", Op: "delete", Error: "x"}, false},
		{"failed newline", &BreakGlassFailed{GrantID: "g1", Op: BreakGlassOpRevoke, Error: "a\nb"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.m)
			if (err == nil) != tt.ok {
				t.Fatalf("Encode = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			m, err := Decode(b)
			if err != nil || m.Type() != tt.m.Type() {
				t.Fatalf("Decode = %v, %v", m, err)
			}
		})
	}
}

func TestBreakGlassRequest(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
	}{
		{`{"duration_seconds":3600}`, true},
		{`{"expires_at":"2026-01-01T11:00:00Z"}`, true},
		{`{}`, false},
		{`{"duration_seconds":3600,"expires_at":"2026-01-01T11:00:00Z"}`, false},
		{`{"duration_seconds":-5}`, false},
		{`{"duration_seconds":3600,"use_within_minutes":5}`, true},
		{`{"duration_seconds":3600,"use_within_minutes":-1}`, false},
		{`{"duration_seconds":3600,"password":"x"}`, false},
	}
	for _, tt := range tests {
		var r BreakGlassRequest
		if err := DecodeJSON(strings.NewReader(tt.body), 1<<10, &r); (err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok=%v", tt.body, err, tt.ok)
		}
	}
}

// FuzzDecodeBreakGlassRequest fuzzes the break-glass API body.
func FuzzDecodeBreakGlassRequest(f *testing.F) {
	for _, s := range []string{`{"duration_seconds":3600}`, `{"expires_at":"2026-01-01T11:00:00Z"}`, `{}`, `{"duration_seconds":1e99}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r BreakGlassRequest
		err := DecodeJSON(bytes.NewReader(data), 1<<10, &r)
		if err == nil && r.Validate() != nil {
			t.Fatal("accepted an invalid request")
		}
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
	})
}
