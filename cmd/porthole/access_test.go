package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"porthole/broker"
	"porthole/internal/clock/clocktest"
)

// cliUsers keeps one CLI credentials file per user of a test broker.
type cliUsers struct {
	t    *testing.T
	url  string
	dir  string
	pass map[string]string
}

// as switches the CLI to name's credentials, logging in the first time.
func (u *cliUsers) as(name string) {
	u.t.Helper()
	cfg := filepath.Join(u.dir, name+".json")
	u.t.Setenv("PORTHOLE_CONFIG", cfg)
	if pw, ok := u.pass[name]; ok {
		if err := run(context.Background(), []string{"login", "--broker", u.url, "--user", name, "--password-stdin"}, strings.NewReader(pw+"\n"), &bytes.Buffer{}); err != nil {
			u.t.Fatalf("login %s: %v", name, err)
		}
		delete(u.pass, name)
	}
}

// runOK runs the CLI and returns its output, failing the test on an error.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), args, nil, &out); err != nil {
		t.Fatalf("porthole %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestAccessRequestFlow drives the CLI against a real broker whose clock
// the test moves: request, approve by a second user, escalate, the grant
// shows, the grant expires.
func TestAccessRequestFlow(t *testing.T) {
	clk := clocktest.New(time.Now())
	var boot bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := broker.New(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Out: &boot, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	u := &cliUsers{t: t, url: srv.URL(), dir: t.TempDir(),
		pass: map[string]string{"admin": regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(boot.String())[1]}}

	u.as("admin")
	for _, name := range []string{"tess", "amy", "oscar"} {
		role := map[string]string{"tess": "technician", "amy": "approver", "oscar": "technician"}[name]
		var res struct{ Password string }
		if err := authed(ctx, "POST", "/api/users", map[string]string{"username": name, "role": role}, &res); err != nil {
			t.Fatal(err)
		}
		u.pass[name] = res.Password
	}
	var g struct{ ID string }
	if err := authed(ctx, "POST", "/api/groups", map[string]string{"name": "servers"}, &g); err != nil {
		t.Fatal(err)
	}
	runOK(t, "entitlement", "set", "remote_support", "--group", g.ID, "--approvers", "role:approver,role:admin", "--approvals", "1",
		"--max", "4h", "--justification")
	runOK(t, "entitlement", "set", "break_glass", "--group", g.ID, "--approvers", "role:approver", "--approvals", "2",
		"--max", "4h", "--justification", "--emergency-approvers", "user:oscar", "--emergency-max", "1h")
	if out := runOK(t, "entitlement", "list"); !strings.Contains(out, "⚡ user:oscar (1)") {
		t.Fatalf("entitlement list:\n%s", out)
	}

	// A normal request, approved by a second user.
	u.as("tess")
	var ee *exitError
	if err := run(ctx, []string{"request", "create", "remote_support", "--for", "1h"}, nil, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "justification") {
		t.Fatalf("no reason: %v", err)
	}
	if err := run(ctx, []string{"request", "create", "remote_support", "--for", "1h", "--reason", "x", "--emergency"}, nil, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "emergency access is not enabled") {
		t.Fatalf("emergency without a path: %v", err)
	}
	var rs accessRequest
	if err := json.Unmarshal([]byte(runOK(t, "request", "create", "remote_support", "--for", "1h", "--reason", "INC-7 printer", "--json")), &rs); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"task", "approve", rs.ID}, nil, &bytes.Buffer{}); !errors.As(err, &ee) || ee.code != 4 {
		t.Fatalf("self-approval: %v", err)
	}
	u.as("amy")
	if out := runOK(t, "task", "list"); !strings.Contains(out, rs.ID) || !strings.Contains(out, "approve,deny") {
		t.Fatalf("amy's tasks:\n%s", out)
	}
	if out := runOK(t, "task", "approve", rs.ID, "--comment", "ok"); !strings.Contains(out, "approved") || !strings.Contains(out, "granted until") {
		t.Fatalf("approve: %s", out)
	}

	// A break-glass request needing two approvals, escalated to the
	// emergency policy: one on-call approval grants it.
	u.as("tess")
	out := runOK(t, "request", "create", "break_glass", "--group", "servers", "--for", "30m", "--reason", "db down")
	id := regexp.MustCompile(`Request (\S+):`).FindStringSubmatch(out)[1]
	if out := runOK(t, "task", "list"); !strings.Contains(out, "escalate") {
		t.Fatalf("escalate not offered:\n%s", out)
	}
	if out := runOK(t, "task", "escalate", id); !strings.Contains(out, "⚡break_glass") || !strings.Contains(out, "pending (0/1 approvals)") {
		t.Fatalf("escalate: %s", out)
	}
	u.as("amy") // the normal approvers no longer count
	if err := run(ctx, []string{"task", "approve", id}, nil, &bytes.Buffer{}); !errors.As(err, &ee) || ee.code != 4 {
		t.Fatalf("normal approver after escalation: %v", err)
	}
	u.as("oscar")
	if out := runOK(t, "task", "list"); !strings.Contains(out, "⚡") {
		t.Fatalf("oscar's tasks lack the marker:\n%s", out)
	}
	runOK(t, "task", "approve", id)

	// Both grants show; the emergency one waits for review.
	u.as("admin")
	out = runOK(t, "grants")
	if !strings.Contains(out, rs.ID) || !strings.Contains(out, id) || !strings.Contains(out, "⚡") {
		t.Fatalf("grants:\n%s", out)
	}
	if out := runOK(t, "task", "list", "--review"); !strings.Contains(out, id) || strings.Contains(out, rs.ID) {
		t.Fatalf("review list:\n%s", out)
	}
	runOK(t, "task", "review", id)

	// Time passes on the broker's clock: the 30-minute grant ends first.
	clk.Advance(31 * time.Minute)
	out = runOK(t, "grants", "--json")
	if !strings.Contains(out, rs.ID) || strings.Contains(out, id) {
		t.Fatalf("grants after 31m: %s", out)
	}
	clk.Advance(30 * time.Minute)
	if out := runOK(t, "grants"); strings.TrimSpace(out) != "(none)" {
		t.Fatalf("grants after 61m:\n%s", out)
	}
	out = runOK(t, "task", "list", "--state", "expired")
	if !strings.Contains(out, rs.ID) || !strings.Contains(out, id) {
		t.Fatalf("expired:\n%s", out)
	}
	if err := run(ctx, []string{"task", "revoke", rs.ID}, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "current state") {
		t.Fatalf("revoke an expired grant: %v", err)
	}
	var recs []struct{ Action string }
	if err := authed(ctx, "GET", "/api/audit?action=access.*&limit=100", nil, &recs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Action] = true
	}
	for _, a := range []string{"access.requested", "access.approved", "access.escalated", "access.granted", "access.reviewed", "access.expired"} {
		if !seen[a] {
			t.Errorf("no %s in the audit log", a)
		}
	}
	// Usage errors exit 2.
	if err := run(ctx, []string{"task", "frob", "x"}, nil, &bytes.Buffer{}); !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("bad step: %v", err)
	}
}
