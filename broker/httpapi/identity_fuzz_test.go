package httpapi

import (
	"bytes"
	"errors"
	"testing"
	"unicode"

	"porthole/internal/wire"
)

// FuzzIdentityBodies: the bodies of the identity routes — the wrapper
// around the browser's WebAuthn credential (go-webauthn parses what is
// inside), the IdP step-up, and the CLI's SSO start and ticket — decode
// strictly: failures are the wire sentinels, and what is accepted is
// bounded as Validate says.
func FuzzIdentityBodies(f *testing.F) {
	for _, s := range []string{`{"ceremony":"c","credential":{"id":"x"}}`, `{"ceremony":"c","name":"Laptop","credential":{}}`,
		`{"ceremony":"","credential":{}}`, `{"ceremony":"c","credential":"x"}`, `{"ceremony":"c","name":"a\u0000","credential":{}}`,
		`{"return":"#/devices/abc"}`, `{"return":"javascript:alert(1)"}`, `{}`,
		`{"provider":"okta","port":40000,"challenge":"abcdefghijabcdefghijabcdefghijabcdefghijabc"}`, `{"provider":"okta","port":80,"challenge":"x"}`,
		`{"id":"i","ticket":"t","verifier":"abcdefghijabcdefghijabcdefghijabcdefghijabc"}`, `null`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sentinel := func(err error) bool {
			return errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrTooLarge) || errors.Is(err, wire.ErrInvalid)
		}
		check := func(v interface{ Validate() error }, ok func() bool) {
			if err := wire.DecodeJSON(bytes.NewReader(data), maxBody, v); err == nil {
				if !ok() {
					t.Fatalf("accepted %+v", v)
				}
			} else if !sentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
		}
		var pf PasskeyFinish
		check(&pf, func() bool {
			for _, r := range pf.Name {
				if !unicode.IsPrint(r) {
					return false
				}
			}
			return pf.Ceremony != "" && len(pf.Ceremony) <= 64 && len(pf.Name) <= 64 && len(pf.Credential) > 0 &&
				len(pf.Credential) <= maxCredentialJSON && pf.Credential[0] == '{'
		})
		var su SSOStepUpRequest
		check(&su, func() bool { return su.Return == "" || portalHash.MatchString(su.Return) })
		var cs CLISSOStart
		check(&cs, func() bool {
			return cs.Provider != "" && cs.Port >= 1024 && cs.Port <= 65535 && b64url43.MatchString(cs.Challenge) && len(cs.TokenName) <= 128
		})
		var ct CLISSOToken
		check(&ct, func() bool {
			return ct.ID != "" && ct.Ticket != "" && len(ct.Verifier) >= 43 && len(ct.Verifier) <= 128
		})
	})
}
