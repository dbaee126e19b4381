package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// TestUserCommands drives "porthole user" against a real broker: create
// (bound to a group), list, role, disable (which ends the user's CLI
// token), enable, reset-password, reset-mfa's refusal without MFA, delete,
// the last-admin guard and the usage errors.
func TestUserCommands(t *testing.T) {
	url, pw := startBroker(t)
	u := &cliUsers{t: t, url: url, dir: t.TempDir(), pass: map[string]string{"admin": pw}}
	u.as("admin")
	ctx := context.Background()
	runOK(t, "group", "create", "lab")

	out := runOK(t, "user", "create", "ann", "--role", "technician", "--group", "lab")
	m := regexp.MustCompile(`Created ann \((\S+), technician on lab\)\. Initial password \(shown once\):\n\n    (\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create:\n%s", out)
	}
	id := m[1]
	u.pass["ann"] = m[2]
	out = runOK(t, "user", "list")
	if !regexp.MustCompile(`(?m)^` + id + `\s+ann\s+technician\s+lab\s+enabled\s`).MatchString(out) {
		t.Fatalf("list:\n%s", out)
	}
	var us []portalUser
	if err := json.Unmarshal([]byte(runOK(t, "user", "list", "--json")), &us); err != nil || len(us) != 2 {
		t.Fatalf("list --json: %+v %v", us, err)
	}

	// ann's CLI token works until she is disabled.
	u.as("ann")
	runOK(t, "devices")
	u.as("admin")
	if out := runOK(t, "user", "role", "ann", "auditor"); !strings.HasPrefix(out, "Changed the role of ann ("+id+") to auditor.") {
		t.Fatalf("role:\n%s", out)
	}
	out = runOK(t, "user", "disable", "ann")
	if !strings.HasPrefix(out, "Disabled ann ("+id+").\nEnded: 0 portal session(s), 0 websocket(s), 1 token(s) revoked, 0 remote session(s).") {
		t.Fatalf("disable:\n%s", out)
	}
	u.as("ann")
	var ee *exitError
	if err := run(ctx, []string{"devices"}, nil, &bytes.Buffer{}); !errors.As(err, &ee) || ee.code != 3 {
		t.Fatalf("ann's token after disable: %v", err)
	}
	u.as("admin")
	runOK(t, "user", "enable", id)
	out = runOK(t, "user", "reset-password", "ann")
	np := regexp.MustCompile(`New password \(shown once\):\n\n    (\S+)\n`).FindStringSubmatch(out)
	if np == nil {
		t.Fatalf("reset-password:\n%s", out)
	}
	u.pass["ann"] = np[1]
	u.as("ann")
	runOK(t, "devices")
	u.as("admin")
	if err := run(ctx, []string{"user", "reset-mfa", "ann"}, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not enrolled") {
		t.Fatalf("reset-mfa without MFA: %v", err)
	}
	// The only admin cannot lock themselves out.
	if err := run(ctx, []string{"user", "disable", "admin"}, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no enabled admin") {
		t.Fatalf("disable the last admin: %v", err)
	}
	runOK(t, "user", "delete", "ann")
	if out := runOK(t, "user", "list", "--all"); !strings.Contains(out, "deleted") {
		t.Fatalf("list --all:\n%s", out)
	}
	if err := run(ctx, []string{"user", "disable", "ann"}, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), `no user "ann"`) {
		t.Fatalf("disable a deleted user: %v", err)
	}
	for _, args := range [][]string{{"user"}, {"user", "frob", "x"}, {"user", "disable"}, {"user", "role", "x"}, {"user", "create", "b", "--role", "root"}} {
		if err := run(ctx, args, nil, &bytes.Buffer{}); !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// TestTokenAPICommands: "porthole token api" creates a scoped token shown
// once, which works within its scope only (exit 4 past it), lists tokens
// with the current one marked, and revokes.
func TestTokenAPICommands(t *testing.T) {
	url, pw := startBroker(t)
	u := &cliUsers{t: t, url: url, dir: t.TempDir(), pass: map[string]string{"admin": pw}}
	u.as("admin")
	ctx := context.Background()
	out := runOK(t, "token", "api", "create", "--scope", "devices:read", "--scope", "audit:read", "--expires", "2h", "--note", "export")
	m := regexp.MustCompile(`API token (\S+) \(audit:read devices:read; valid until .*\)\. Shown once.*:\n\n    (pht_\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create:\n%s", out)
	}
	id, secret := m[1], m[2]
	// Use the token as a script would: the CLI's credentials file holds it.
	c, _ := loadCreds()
	if err := saveCreds(credentials{Broker: c.Broker, Token: secret, User: "admin"}); err != nil {
		t.Fatal(err)
	}
	runOK(t, "devices")
	runOK(t, "audit", "--limit", "1")
	var ee *exitError
	err := run(ctx, []string{"token", "create"}, nil, &bytes.Buffer{})
	if !errors.As(err, &ee) || ee.code != 4 || !strings.Contains(err.Error(), "enrollment:write") {
		t.Fatalf("enrollment token with a scoped token: %v", err)
	}
	if err := saveCreds(c); err != nil {
		t.Fatal(err)
	}
	out = runOK(t, "token", "api", "list")
	if !regexp.MustCompile(`(?m)^`+id+`\s+api\s+audit:read,devices:read\s+export\s`).MatchString(out) || !strings.Contains(out, "active (this one)") {
		t.Fatalf("list:\n%s", out)
	}
	if out := runOK(t, "token", "api", "revoke", id); out != "Revoked API token "+id+".\n" {
		t.Fatalf("revoke: %s", out)
	}
	if err := run(ctx, []string{"token", "api", "revoke", "nosuch"}, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("revoke unknown: %v", err)
	}
	var ts []apiToken
	if err := json.Unmarshal([]byte(runOK(t, "token", "api", "list", "--json")), &ts); err != nil || len(ts) != 2 {
		t.Fatalf("list --json: %+v %v", ts, err)
	}
	for _, args := range [][]string{{"token", "api"}, {"token", "api", "create"}, {"token", "api", "create", "--scope", "a\x01"}, {"token", "api", "revoke"}} {
		if err := run(ctx, args, nil, &bytes.Buffer{}); !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if err := run(ctx, []string{"token", "api", "create", "--scope", "devices:nope"}, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "devices:nope") {
		t.Fatalf("unknown scope: %v", err)
	}
}
