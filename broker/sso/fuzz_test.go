package sso

import (
	"errors"
	"net/url"
	"testing"
)

// FuzzParseCallback: any query the callback URL gets parses to one code or
// one error with a state, within bounds, or is refused as ErrNoFlow; an
// error code kept is printable ASCII without quotes or backslashes.
func FuzzParseCallback(f *testing.F) {
	for _, s := range []string{"code=abc&state=xyz", "error=access_denied&state=s", "state=s", "code=a", "code=a&code=b&state=s",
		"code=a&error=b&state=s", "error=%22%3Cscript%3E&state=s", "state=" + string(make([]byte, 300)), "%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		c, err := ParseCallback(q)
		if err != nil {
			if !errors.Is(err, ErrNoFlow) {
				t.Fatalf("error is not ErrNoFlow: %v", err)
			}
			return
		}
		if c.State == "" || len(c.State) > maxState || len(c.Code) > maxCode || (c.Code == "") == (c.Error == "") {
			t.Fatalf("accepted %+v", c)
		}
		for _, r := range c.Error {
			if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
				t.Fatalf("error code kept %q", c.Error)
			}
		}
	})
}

// FuzzParseConfig: a providers file is accepted only when every provider
// is complete and its mappings name known roles; errors are ErrConfig.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"providers":[{"id":"entra","name":"Entra ID","issuer":"https://login.microsoftonline.com/t/v2.0","client_id":"c",` +
		`"client_secret_env":"X","groups":[{"group":"g","role":"admin"}]}]}`))
	f.Add([]byte(`{"providers":[{"id":"x","name":"X","issuer":"http://evil","client_id":"c","groups":[{"group":"g","role":"admin"}]}]}`))
	f.Add([]byte(`{"providers":[{"id":"k","name":"K","issuer":"https://k","client_id":"c","groups":[{"group":"g","role":"auditor","device_groups":["a"]}]}]}`))
	f.Add([]byte(`{"providers":[],"extra":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error is not ErrConfig: %v", err)
			}
			return
		}
		for _, p := range c.Providers {
			if !providerID.MatchString(p.ID) || p.Name == "" || p.ClientID == "" || len(p.Groups) == 0 || p.UsernameClaim == "" || p.GroupsClaim == "" {
				t.Fatalf("accepted %+v", p)
			}
		}
	})
}
