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
		`{"v":1,"type":"inventory","body":{"hostname":"h","os":"Windows 10 Pro","arch":"amd64","user":"u","displays":[{"index":0,"x":0,"y":0,"width":1920,"height":1080,"primary":true},{"index":1,"x":-1280,"y":-200,"width":1280,"height":720}],"capture":"gdi"}}`,
		`{"v":1,"type":"inventory","body":{"hostname":"h","os":"o","arch":"a","user":"u","displays":[],"capture":"DXGI"}}`,
		`{"v":1,"type":"hello","body":{}}`,
		`{"v":1,"type":"session_expiry","body":{"session_id":"s1","expires_at":"2026-01-01T10:03:00Z","remaining_seconds":120,"warning":true}}`,
		`{"v":1,"type":"session_expiry","body":{"session_id":"s1","expires_at":"2026-01-01T10:03:00+02:00","remaining_seconds":-1}}`,
		`{"v":1,"type":"agent_events","body":{"events":[{"id":"e1","kind":"breakglass.created","at":"2026-01-01T10:00:00Z","data":{"user":"pt-ab12"}}]}}`,
		`{"v":1,"type":"agent_events","body":{"events":[{"id":"e1","kind":"x","at":"2026-01-01T10:00:00Z","data":[1]}]}}`,
		`{"v":1,"type":"agent_events_ack","body":{"ids":["e1","e2"]}}`,
		`{"v":1,"type":"elevation_policy","body":{"self_approve_groups":["helpdesk-self"],"max_minutes":60}}`,
		`{"v":1,"type":"elevation_code","body":{"request_id":"r1","user":"ann","code":"ABCD-EFGH-JKMN"}}`,
		`{"v":1,"type":"elevation_code","body":{"request_id":"r1","user":"ann","code":"ABCD-EFGH-JKMN","by":"tech"}}`,
		`{"v":1,"type":"elevation_request_result","body":{"request_id":"r1","status":"denied","message":"not now","by":"tech"}}`,
		`{"v":1,"type":"elevation_request_result","body":{"request_id":"r1","status":"approved"}}`,
		`{"v":1,"type":"breakglass_create","body":{"grant_id":"g1","requester":"alice","expires_at":"2026-01-01T11:00:00Z","use_within_seconds":900}}`,
		`{"v":1,"type":"breakglass_created","body":{"grant_id":"g1","username":"ph-ab12cd34","password":"Xy7#abcdEFGH2345jkmn!@^_","created_at":"2026-01-01T10:00:00Z","expires_at":"2026-01-01T11:00:00Z","use_by":"2026-01-01T10:15:00Z"}}`,
		`{"v":1,"type":"breakglass_created","body":{"grant_id":"g1","username":"Root","password":"p","created_at":"2026-01-01T10:00:00Z","expires_at":"2026-01-01T11:00:00Z"}}`,
		`{"v":1,"type":"breakglass_revoke","body":{"grant_id":"g1","username":"ph-ab12cd34"}}`,
		`{"v":1,"type":"breakglass_revoked","body":{"grant_id":"g1","username":"ph-ab12cd34"}}`,
		`{"v":1,"type":"breakglass_failed","body":{"grant_id":"g1","op":"create","error":"no administrator group"}}`,
		`{"v":1,"type":"support_request","body":{"request_id":"r1","name":"Ann","email":"ann@example.com","phone":"+44 20 7946 0000","reason":"printer"}}`,
		`{"v":1,"type":"support_request","body":{"request_id":"r1","name":"Ann","email":"","phone":"","reason":"x"}}`,
		`{"v":1,"type":"support_request_result","body":{"request_id":"r1","status":"denied","message":"not now","by":"admin"}}`,
		`{"v":1,"type":"support_request_result","body":{"request_id":"r1","status":"maybe"}}`,
		`{"v":1,"type":"support_request_result","body":{"request_id":"r1","status":"expired","message":"m","requested_at":"2026-01-01T14:02:00Z"}}`,
		`{"v":1,"type":"elevation_request_result","body":{"request_id":"r1","status":"denied","requested_at":"2026-01-01T14:02:00+01:00"}}`,
		`{"v":1,"type":"request_outcome_ack","body":{"request_id":"0123abcd"}}`,
		`{"v":1,"type":"request_outcome_ack","body":{"request_id":"a/b"}}`,
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
	f.Add([]byte(`{"token":"t","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","inventory":{"hostname":"h","os":"Windows","arch":"amd64","user":"","displays":[],"capture":"dxgi"}}`))
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

// FuzzDecodeElevationEvent fuzzes the data of agent elevation events and
// the code request body.
func FuzzDecodeElevationEvent(f *testing.F) {
	f.Add([]byte(`{"session_id":"abc","user":"ann","until":"2026-01-01T00:00:00Z","code_nonce":7}`))
	f.Add([]byte(`{"session_id":"abc","user":"ann","process":{"pid":4,"ppid":1,"uid":1000,"euid":0,"loginuid":1000,"exe":"/usr/bin/sudo","args":["sudo","id"]}}`))
	f.Add([]byte(`{"user":"ann","reason":"bad_code","error":"elevcode: code is not valid"}`))
	f.Add([]byte(`{"user":"ann","minutes":30}`))
	f.Add([]byte(`{"request_id":"r1","user":"ann","note":"install the printer driver"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if e, err := DecodeElevationEvent(data); err == nil {
			if e.Validate() != nil {
				t.Fatal("accepted an invalid event")
			}
			b, err := MarshalElevationEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeElevationEvent(b); err != nil && len(b) <= MaxAgentEventData {
				t.Fatalf("round trip: %v", err)
			}
		}
		var r ElevationCodeRequest
		if err := DecodeJSON(bytes.NewReader(data), 1<<16, &r); err == nil && r.Validate() != nil {
			t.Fatal("accepted an invalid code request")
		}
	})
}

// FuzzDecodeRequestBodies fuzzes the API bodies of groups and the requests queue.
func FuzzDecodeRequestBodies(f *testing.F) {
	f.Add([]byte(`{"name":"servers"}`))
	f.Add([]byte(`{"group_id":"g1"}`))
	f.Add([]byte(`{"group_id":""}`))
	f.Add([]byte(`{"comment":"call me"}`))
	f.Add([]byte(`{"comment":"a\u0000b"}`))
	f.Add([]byte(`{"entitlement":"break_glass","group":"lab","duration_seconds":3600,"justification":"db down","emergency":true}`))
	f.Add([]byte(`{"name":"remote_support","group_id":"g1","request":{"approvers":["role:admin"],"approvals":1,"max_duration_seconds":3600},"emergency":{"auto_approve":true,"max_duration_seconds":600}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []interface{ Validate() error }{&GroupRequest{}, &DeviceGroupRequest{}, &DecisionRequest{},
			&EntitlementRequest{}, &AccessRequestCreate{}} {
			if err := DecodeJSON(bytes.NewReader(data), 1<<16, v); err == nil && v.Validate() != nil {
				t.Fatalf("accepted an invalid %T", v)
			}
		}
	})
}
