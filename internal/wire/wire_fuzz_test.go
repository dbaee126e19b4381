package wire

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode checks that no frame panics the decoder, that every failure
// wraps a sentinel, and that anything accepted re-encodes to a frame that
// decodes to the same message.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"heartbeat"}`,
		`{"v":1,"type":"welcome","body":{"heartbeat_seconds":15}}`,
		`{"v":1,"type":"error","body":{"code":"revoked","message":"x"}}`,
		`{"v":1,"type":"challenge","body":{"nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}`,
		`{"v":1,"type":"inventory","body":{"hostname":"h","os":"o","arch":"a","user":"u","displays":[{"index":0,"x":0,"y":0,"width":1,"height":1}]}}`,
		`{"v":1,"type":"hello","body":{}}`,
		`{"v":1,"type":"session_expiry","body":{"session_id":"s1","expires_at":"2026-01-01T10:03:00Z","remaining_seconds":120,"warning":true}}`,
		`{"v":1,"type":"session_expiry","body":{"session_id":"s1","expires_at":"2026-01-01T10:03:00+02:00","remaining_seconds":-1}}`,
		`{"v":1,"type":"support_request","body":{"request_id":"r1","name":"Ann","email":"ann@example.com","phone":"+44 20 7946 0000","reason":"printer"}}`,
		`{"v":1,"type":"support_request","body":{"request_id":"r1","name":"Ann","email":"","phone":"","reason":"x"}}`,
		`{"v":1,"type":"support_request_result","body":{"request_id":"r1","status":"denied","message":"not now","by":"admin"}}`,
		`{"v":1,"type":"support_request_result","body":{"request_id":"r1","status":"maybe"}}`,
		`{"v":1,"type":"settings","body":{"values":{"remote_support.allow":"true","remote_support.desktop_icon":"false"}}}`,
		`{"v":1,"type":"settings","body":{"values":{"":"x"}}}`,
		`{"v":2}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			for _, s := range []error{ErrTooLarge, ErrMalformed, ErrVersion, ErrUnknownType, ErrInvalid} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("accepted message does not re-encode: %v", err)
		}
		m2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoded message rejected: %v", err)
		}
		b2, _ := Encode(m2)
		if !bytes.Equal(b, b2) {
			t.Fatalf("unstable encoding:\n%s\n%s", b, b2)
		}
	})
}

// FuzzDecodeEnroll fuzzes the one HTTP body an unauthenticated caller can send.
func FuzzDecodeEnroll(f *testing.F) {
	f.Add([]byte(`{"token":"t","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","inventory":{"hostname":"h","os":"","arch":"","user":"","displays":[]}}`))
	f.Add([]byte(`{"username":"a","password":"b"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r EnrollRequest
		if err := DecodeJSON(bytes.NewReader(data), 1<<16, &r); err == nil {
			if r.Validate() != nil {
				t.Fatal("accepted an invalid request")
			}
		}
		var l LoginRequest
		_ = DecodeJSON(bytes.NewReader(data), 1<<16, &l)
	})
}

// FuzzDecodeRequestBodies fuzzes the API bodies of groups and the requests queue.
func FuzzDecodeRequestBodies(f *testing.F) {
	f.Add([]byte(`{"name":"servers"}`))
	f.Add([]byte(`{"group_id":"g1"}`))
	f.Add([]byte(`{"group_id":""}`))
	f.Add([]byte(`{"comment":"call me"}`))
	f.Add([]byte(`{"comment":"a\u0000b"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []interface{ Validate() error }{&GroupRequest{}, &DeviceGroupRequest{}, &DecisionRequest{}} {
			if err := DecodeJSON(bytes.NewReader(data), 1<<16, v); err == nil && v.Validate() != nil {
				t.Fatalf("accepted an invalid %T", v)
			}
		}
	})
}
