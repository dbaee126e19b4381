package httpapi

import (
	"bytes"
	"errors"
	"testing"

	"porthole/internal/wire"
)

// FuzzMFABodies: the second-factor bodies (POST /api/login/mfa,
// /api/mfa/confirm, /api/mfa/stepup, /api/mfa/recovery-codes and the CLI's
// /api/cli/login/mfa, reachable before the login is complete) decode
// strictly: failures are the wire sentinels, and what is accepted is
// bounded as Validate says.
func FuzzMFABodies(f *testing.F) {
	for _, s := range []string{`{"code":"123456"}`, `{"code":""}`, `{"code":"ABCD-EFGH-JKMN-PQRS"}`,
		`{"ticket":"t","code":"123456","token_name":"laptop"}`, `{"ticket":"","code":"1"}`, `{"code":1}`, `{}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sentinel := func(err error) bool {
			return errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrTooLarge) || errors.Is(err, wire.ErrInvalid)
		}
		var c CodeRequest
		if err := wire.DecodeJSON(bytes.NewReader(data), maxBody, &c); err == nil {
			if c.Code == "" || len(c.Code) > 64 {
				t.Fatalf("accepted code %q", c.Code)
			}
		} else if !sentinel(err) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		var cl CLICodeRequest
		if err := wire.DecodeJSON(bytes.NewReader(data), maxBody, &cl); err == nil {
			if cl.Ticket == "" || len(cl.Ticket) > 128 || len(cl.TokenName) > 128 || cl.Code == "" {
				t.Fatalf("accepted %+v", cl)
			}
		} else if !sentinel(err) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
	})
}
