package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// portalPost sends a JSON POST with the portal's cookie session.
func portalPost(t *testing.T, c *http.Client, url, path string, body, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := c.Post(url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil && res.StatusCode < 300 {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode
}

// TestLoginSecondFactor: once the account has TOTP, "porthole login" gets
// no token from the password alone; it asks for a code (here on standard
// input after the password, or with --code), and a used recovery code or a
// wrong code is refused.
func TestLoginSecondFactor(t *testing.T) {
	url, pw := startBroker(t)
	t.Setenv("PORTHOLE_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	ctx := context.Background()

	// Enroll the admin through the portal API.
	jar, _ := cookiejar.New(nil)
	web := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if st := portalPost(t, web, url, "/api/login", map[string]string{"username": "admin", "password": pw}, nil); st != 200 {
		t.Fatalf("portal login: %d", st)
	}
	var enr struct{ Secret string }
	if st := portalPost(t, web, url, "/api/mfa/enroll", nil, &enr); st != 200 || enr.Secret == "" {
		t.Fatalf("enroll: %d", st)
	}
	code, err := totp.GenerateCode(enr.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if st := portalPost(t, web, url, "/api/mfa/confirm", map[string]string{"code": code}, &conf); st != 200 || len(conf.RecoveryCodes) != 10 {
		t.Fatalf("confirm: %d %v", st, conf.RecoveryCodes)
	}

	login := func(stdin string, extra ...string) error {
		args := append([]string{"login", "--broker", url, "--user", "admin", "--password-stdin"}, extra...)
		return run(ctx, args, strings.NewReader(stdin), &bytes.Buffer{})
	}
	var ee *exitError
	// Password alone: no code on stdin, no token.
	if err := login(pw + "\n"); err == nil || !strings.Contains(err.Error(), "code") {
		t.Fatalf("login without a code: %v", err)
	}
	if _, err := loadCreds(); !errors.As(err, &ee) || ee.code != 3 {
		t.Fatalf("a token was stored without the second factor: %v", err)
	}
	if err := login(pw+"\n", "--code", "000000"); !errors.As(err, &ee) || ee.code != 3 || !strings.Contains(err.Error(), "invalid authentication code") {
		t.Fatalf("wrong code: %v", err)
	}
	// A recovery code on stdin after the password.
	if err := login(pw + "\n" + conf.RecoveryCodes[0] + "\n"); err != nil {
		t.Fatalf("login with a recovery code: %v", err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"devices"}, nil, &out); err != nil {
		t.Fatalf("devices with the token: %v", err)
	}
	// The same recovery code works once only.
	if err := login(pw+"\n", "--code", conf.RecoveryCodes[0]); err == nil {
		t.Fatal("a used recovery code logged in again")
	}
	if err := login(pw+"\n", "--code", conf.RecoveryCodes[1]); err != nil {
		t.Fatalf("second recovery code: %v", err)
	}
}
