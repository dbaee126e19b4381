package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"porthole/internal/clock/clocktest"
)

// TestUserUnlock: "porthole user unlock NAME" (any case) lifts a lockout
// that failed logins put on an account, which can then log in; it is for
// admins only, and says so for an unknown name or a missing one.
func TestUserUnlock(t *testing.T) {
	url, pw := startBrokerClock(t, clocktest.New(time.Now())) // the clock stands still: a lock stays
	u := &cliUsers{t: t, url: url, dir: t.TempDir(), pass: map[string]string{"admin": pw}}
	u.as("admin")
	ctx := context.Background()
	var lee struct{ Password string }
	if err := authed(ctx, "POST", "/api/users", map[string]string{"username": "lee", "role": "technician"}, &lee); err != nil {
		t.Fatal(err)
	}
	login := func(pw string) int {
		t.Helper()
		res, err := http.Post(url+"/api/login", "application/json", strings.NewReader(`{"username":"lee","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for range 6 {
		login("wrong")
	}
	if st := login(lee.Password); st != http.StatusTooManyRequests {
		t.Fatalf("lee after 6 wrong passwords: %d, want 429", st)
	}
	if out := runOK(t, "user", "unlock", "LEE"); out != "Unlocked lee (was locked; 6 failed attempt(s) forgotten).\n" {
		t.Fatalf("unlock: %q", out)
	}
	if st := login(lee.Password); st != http.StatusOK {
		t.Fatalf("lee after the unlock: %d", st)
	}
	var res struct {
		Username  string `json:"username"`
		WasLocked bool   `json:"was_locked"`
	}
	if err := json.Unmarshal([]byte(runOK(t, "user", "unlock", "lee", "--json")), &res); err != nil || res.Username != "lee" || res.WasLocked {
		t.Fatalf("unlock --json: %+v %v", res, err)
	}
	var ee *exitError
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"user", "unlock"}, 2, "usage: porthole user unlock NAME"},
		{[]string{"user", "unlock", "a", "b"}, 2, "usage"},
		{[]string{"user", "frobnicate"}, 2, "usage"},
		{[]string{"user", "unlock", "nobody"}, 0, `no user "nobody"`},
	} {
		err := run(ctx, tc.args, nil, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.msg) || (tc.code != 0 && (!errors.As(err, &ee) || ee.code != tc.code)) {
			t.Errorf("porthole %s: %v, want exit %d and %q", strings.Join(tc.args, " "), err, tc.code, tc.msg)
		}
	}
	u.pass["lee"] = lee.Password
	u.as("lee")
	if err := run(ctx, []string{"user", "unlock", "lee"}, nil, &bytes.Buffer{}); !errors.As(err, &ee) || ee.code != 4 {
		t.Fatalf("a technician unlocking: %v, want exit 4", err)
	}
}
