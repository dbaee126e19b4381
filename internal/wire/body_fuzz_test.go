package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// One fuzz target per API request body an untrusted caller sends (the
// portal, the CLI, a script with a token, an enrolling agent). Each runs
// its seeds in go test and checks the same contract (fuzzBody): no panic,
// every failure wraps ErrMalformed, ErrTooLarge or ErrInvalid, and what is
// accepted validates and survives a round trip unchanged.

// body is a request body type decoded with DecodeJSON.
type body[T any] interface {
	*T
	Validate() error
}

func fuzzBody[T any, P body[T]](f *testing.F, seeds ...string) {
	fuzzBodies(f, seeds, checkBody[T, P])
}

// fuzzBodies fuzzes several body types with one corpus.
func fuzzBodies(f *testing.F, seeds []string, checks ...func(*testing.T, []byte)) {
	for _, s := range append(seeds, `{}`, `{"unknown":1}`, `null`, `{"a":1}{"a":2}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range checks {
			c(t, data)
		}
	})
}

func checkBody[T any, P body[T]](t *testing.T, data []byte) {
	var v T
	err := DecodeJSON(bytes.NewReader(data), 1<<16, P(&v))
	if err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		return
	}
	if err := P(&v).Validate(); err != nil {
		t.Fatalf("accepted an invalid %T: %v", v, err)
	}
	b, err := json.Marshal(P(&v))
	if err != nil {
		t.Fatalf("accepted %T does not encode: %v", v, err)
	}
	var again T
	if err := DecodeJSON(bytes.NewReader(b), 1<<20, P(&again)); err != nil {
		t.Fatalf("re-encoded %T refused: %v\n%s", v, err, b)
	}
	if !reflect.DeepEqual(v, again) {
		t.Fatalf("round trip changed %T:\n%+v\n%+v", v, v, again)
	}
}

// FuzzLoginRequest: POST /api/login and /api/cli/login (no session needed).
func FuzzLoginRequest(f *testing.F) {
	fuzzBody[LoginRequest](f, `{"username":"admin","password":"pw"}`, `{"username":"ann","password":"x","token_name":"laptop"}`,
		`{"username":"a\u0000b","password":"x"}`, `{"username":"","password":"x"}`)
}

// FuzzTokenRequest: POST /api/enroll-tokens.
func FuzzTokenRequest(f *testing.F) {
	fuzzBody[TokenRequest](f, `{"max_uses":1,"expires_in_seconds":3600,"note":"lab"}`, `{"max_uses":0,"expires_in_seconds":3600}`,
		`{"max_uses":1,"expires_in_seconds":1e20}`)
}

// FuzzUserRequest: POST /api/users.
func FuzzUserRequest(f *testing.F) {
	fuzzBody[UserRequest](f, `{"username":"ann","role":"auditor"}`, `{"username":"a b","role":"admin"}`, `{"username":"ann","role":"root"}`)
}

// FuzzSessionRequest: POST /api/sessions.
func FuzzSessionRequest(f *testing.F) {
	fuzzBody[SessionRequest](f, `{"device_id":"d1","display":0}`, `{"device_id":"d1","view_only":true,"display":2,"unattended":true}`,
		`{"device_id":"../x","display":0}`, `{"device_id":"d1","display":-1}`)
}

// FuzzSettingRequest: PUT /api/settings/{key} (the settings package checks
// the scope's and the value's meaning after this).
func FuzzSettingRequest(f *testing.F) {
	fuzzBody[SettingRequest](f, `{"scope":"global","value":"true"}`, `{"scope":"device:../../x","value":"false"}`,
		`{"scope":"group:g1","value":"a\nb"}`)
}

// FuzzSessionControl: POST /api/sessions/{id}/view-only and /display.
func FuzzSessionControl(f *testing.F) {
	fuzzBodies(f, []string{`{"view_only":true}`, `{"view_only":"yes"}`, `{"display":1}`, `{"display":99}`},
		checkBody[ViewOnlyRequest], checkBody[DisplayRequest])
}

// FuzzViewerSignal: what a viewer page sends on the signaling websocket.
func FuzzViewerSignal(f *testing.F) {
	fuzzBody[ViewerSignal](f, `{"type":"answer","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}`, `{"type":"end"}`, `{"type":"end","sdp":"x"}`,
		`{"type":"offer","sdp":"v=0"}`)
}

// FuzzEntitlementRequest: PUT /api/access/entitlements.
func FuzzEntitlementRequest(f *testing.F) {
	fuzzBody[EntitlementRequest](f,
		`{"name":"remote_support","group_id":"g1","request":{"approvers":["role:admin"],"approvals":1,"max_duration_seconds":3600}}`,
		`{"name":"break_glass","group_id":"g1","request":{"approvers":["user:ann","role:approver"],"approvals":2,"max_duration_seconds":600,"justification_required":true},"emergency":{"auto_approve":true,"max_duration_seconds":600}}`,
		`{"name":"x","group_id":"g1","request":{"approvers":[],"approvals":0}}`)
}

// FuzzAccessRequestCreate: POST /api/access/requests (any logged-in user).
func FuzzAccessRequestCreate(f *testing.F) {
	fuzzBody[AccessRequestCreate](f, `{"entitlement":"break_glass","group":"lab","duration_seconds":3600,"justification":"INC-9","emergency":true}`,
		`{"entitlement":"remote_support","duration_seconds":-5}`)
}

// FuzzDecisionRequest: approve, deny, escalate… on the requests queue and
// on access requests.
func FuzzDecisionRequest(f *testing.F) {
	fuzzBody[DecisionRequest](f, `{"comment":"ok"}`, `{"minutes":30,"comment":"for the driver"}`, `{"comment":"a\u0000b"}`)
}

// FuzzGroupRequests: POST /api/groups, PUT /api/groups/{id} and
// PUT /api/devices/{id}/group.
func FuzzGroupRequests(f *testing.F) {
	fuzzBodies(f, []string{`{"name":"servers"}`, `{"name":""}`, `{"group_id":"g1"}`, `{"group_id":""}`, `{"group_id":"a/b"}`},
		checkBody[GroupRequest], checkBody[DeviceGroupRequest])
}

// FuzzBreakGlassBody: POST /api/devices/{id}/breakglass.
func FuzzBreakGlassBody(f *testing.F) {
	fuzzBody[BreakGlassRequest](f, `{"duration_seconds":3600}`, `{"duration_seconds":3600,"use_within_seconds":600}`,
		`{"until":"2026-01-01T10:00:00Z"}`)
}

// FuzzElevationCodeBody: POST /api/devices/{id}/elevation-codes.
func FuzzElevationCodeBody(f *testing.F) {
	fuzzBody[ElevationCodeRequest](f, `{"user":"ann","minutes":30}`, `{"minutes":5}`, `{"user":"root;rm","minutes":5}`)
}

// FuzzEnrollBody: POST /api/agent/enroll, the one body that needs no
// login at all.
func FuzzEnrollBody(f *testing.F) {
	fuzzBody[EnrollRequest](f,
		`{"token":"phe_x","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","inventory":{"hostname":"h","os":"linux","arch":"amd64","user":"ann","displays":[{"index":0,"x":0,"y":0,"width":1280,"height":720}],"policy":{"unattended":"deny"}}}`,
		`{"token":"phe_x","public_key":"AAAA","inventory":{"hostname":"h"}}`)
}

// FuzzRotateKeyRequest: POST /api/devices/{id}/rotate-key.
func FuzzRotateKeyRequest(f *testing.F) {
	fuzzBody[RotateKeyRequest](f, `{"wait_seconds":10}`, `{"wait_seconds":-1}`, `{"wait_seconds":3600}`)
}

// FuzzDecodeHello: the first frame of an agent link, before it is
// authenticated, and the inventory it carries (with the endpoint policy).
func FuzzDecodeHello(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"hello","body":{"device_id":"d1","signature":"` + sig64 + `","agent_version":"0.1.0","inventory":{"hostname":"pc","os":"linux","arch":"amd64","user":"ann","displays":[],"policy":{"unattended":"allow"}}}}`,
		`{"v":1,"type":"hello","body":{"device_id":"d1","signature":"AA==","agent_version":"x","inventory":{"hostname":"pc","os":"","arch":"","user":"","displays":null}}}`,
		`{"v":1,"type":"inventory","body":{"hostname":"pc","os":"","arch":"","user":"","displays":[],"policy":{"unattended":"maybe"}}}`,
		`{"v":1,"type":"hello","body":{"device_id":"../d","signature":"` + sig64 + `","agent_version":"x","inventory":{"hostname":"pc","os":"","arch":"","user":"","displays":[]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return // FuzzDecode checks the error kinds
		}
		switch m := m.(type) {
		case *Hello:
			if len(m.Signature) != 64 || !ValidID(m.DeviceID) || m.Inventory.Validate() != nil {
				t.Fatalf("accepted a bad hello: %+v", m)
			}
		case *Inventory:
			if m.Policy != nil && m.Policy.Unattended != UnattendedDeny && m.Policy.Unattended != UnattendedAllow {
				t.Fatalf("accepted policy %q", m.Policy.Unattended)
			}
		}
	})
}

// sig64 is a 64-byte signature, base64.
const sig64 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="

// FuzzDecodeDeviceKey: the key-rotation messages of the agent link; a
// device key is accepted only at its exact size.
func FuzzDecodeDeviceKey(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"device_key","body":{"rotation_id":"r1","secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}`,
		`{"v":1,"type":"device_key","body":{"rotation_id":"r1","secret":"AAAA"}}`,
		`{"v":1,"type":"device_key_ack","body":{"rotation_id":"r1"}}`,
		`{"v":1,"type":"device_key_done","body":{"rotation_id":"a/b"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *DeviceKey:
			if len(m.Secret) != DeviceKeySize || !ValidID(m.RotationID) {
				t.Fatalf("accepted %+v", m)
			}
		case *DeviceKeyAck:
			if !ValidID(m.RotationID) {
				t.Fatalf("accepted %+v", m)
			}
		case *DeviceKeyDone:
			if !ValidID(m.RotationID) {
				t.Fatalf("accepted %+v", m)
			}
		}
	})
}
