package wire

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeUserRequests fuzzes the bodies of the user lifecycle and API
// token routes: nothing panics, every failure wraps a sentinel, and what is
// accepted validates.
func FuzzDecodeUserRequests(f *testing.F) {
	for _, s := range []string{
		`{"username":"ann","role":"technician","groups":["g1","g2"]}`,
		`{"username":"ann","role":"auditor"}`,
		`{"role":"technician","groups":["g1"]}`,
		`{"role":"admin"}`,
		`{"role":"technician","groups":[""]}`,
		`{"scopes":["devices:read","sessions:*"],"expires_in_seconds":86400,"note":"ci"}`,
		`{"scopes":[],"expires_in_seconds":60}`,
		`{"scopes":["*"],"expires_in_seconds":59}`,
		`{"scopes":["a\u0000b"],"expires_in_seconds":600}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []interface{ Validate() error }{&UserRequest{}, &RoleRequest{}, &APITokenRequest{}} {
			err := DecodeJSON(bytes.NewReader(data), 1<<16, v)
			if err == nil {
				if v.Validate() != nil {
					t.Fatalf("accepted an invalid %T", v)
				}
				continue
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%T: error wraps no sentinel: %v", v, err)
			}
		}
	})
}

func TestUserRequests(t *testing.T) {
	tests := []struct {
		in string
		v  interface{ Validate() error }
		ok bool
	}{
		{`{"role":"technician","groups":["g1"]}`, &RoleRequest{}, true},
		{`{"role":"root"}`, &RoleRequest{}, false},
		{`{"role":"technician","groups":["` + string(bytes.Repeat([]byte("x"), 65)) + `"]}`, &RoleRequest{}, false},
		{`{"username":"ann","role":"technician","groups":[""]}`, &UserRequest{}, false},
		{`{"scopes":["devices:read"],"expires_in_seconds":3600}`, &APITokenRequest{}, true},
		{`{"scopes":[],"expires_in_seconds":3600}`, &APITokenRequest{}, false},
		{`{"scopes":["devices:read"],"expires_in_seconds":30}`, &APITokenRequest{}, false},
		{`{"scopes":["devices:read"],"expires_in_seconds":3600,"owner":"admin"}`, &APITokenRequest{}, false},
	}
	for _, tc := range tests {
		if err := DecodeJSON(bytes.NewReader([]byte(tc.in)), 1<<16, tc.v); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
