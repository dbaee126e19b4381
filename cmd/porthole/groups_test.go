package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"porthole/agent"
	"porthole/internal/wire"
)

// TestGroupCommands drives "porthole group" against a real broker with an
// enrolled device: create, list, rename, assign, a delete refused while an
// entitlement exists, a forced delete, and the usage and lookup errors.
func TestGroupCommands(t *testing.T) {
	url, pw := startBroker(t)
	u := &cliUsers{t: t, url: url, dir: t.TempDir(), pass: map[string]string{"admin": pw}}
	u.as("admin")
	ctx := context.Background()
	var tok struct{ Token string }
	if err := authed(ctx, "POST", "/api/enroll-tokens", wire.TokenRequest{MaxUses: 1, ExpiresInSeconds: 600}, &tok); err != nil {
		t.Fatal(err)
	}
	id, err := agent.Enroll(ctx, agent.Config{StateDir: filepath.Join(t.TempDir(), "agent"), Displays: func() ([]wire.Display, error) { return nil, nil }},
		url, tok.Token, "")
	if err != nil {
		t.Fatal(err)
	}
	dev := id.DeviceID

	if out := runOK(t, "group", "list"); strings.TrimSpace(out) != "(none)" {
		t.Fatalf("empty list:\n%s", out)
	}
	if out := runOK(t, "group", "create", "Lab"); !strings.HasPrefix(out, "Created group Lab (") {
		t.Fatalf("create: %s", out)
	}
	var created group
	if err := json.Unmarshal([]byte(runOK(t, "group", "create", "Office", "--json")), &created); err != nil || created.Name != "Office" || created.ID == "" {
		t.Fatalf("create --json: %+v %v", created, err)
	}
	if out := runOK(t, "group", "rename", "Lab", "Lab Machines"); !strings.HasPrefix(out, "Renamed group Lab to Lab Machines (") {
		t.Fatalf("rename: %s", out)
	}
	if out := runOK(t, "group", "assign", dev, "Lab Machines"); out != "Device "+dev+" is now in Lab Machines.\n" {
		t.Fatalf("assign: %s", out)
	}
	out := runOK(t, "group", "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.Contains(lines[1], "Lab Machines  1 ") || !strings.Contains(lines[2], "Office        0 ") {
		t.Fatalf("list:\n%s", out)
	}
	var gs []group
	if err := json.Unmarshal([]byte(runOK(t, "group", "list", "--json")), &gs); err != nil || len(gs) != 2 || gs[0].Devices != 1 {
		t.Fatalf("list --json: %+v %v", gs, err)
	}
	lab := gs[0].ID
	if err := authed(ctx, "PUT", "/api/settings/remote_support.consent_timeout", map[string]string{"scope": "group:" + lab, "value": "30"}, nil); err != nil {
		t.Fatal(err)
	}
	ent := wire.EntitlementRequest{Name: "break_glass", GroupID: lab, Request: wire.AccessPolicy{Approvers: []string{"role:admin"}, Approvals: 1, MaxDurationSeconds: 3600}}
	if err := authed(ctx, "PUT", "/api/access/entitlements", ent, nil); err != nil {
		t.Fatal(err)
	}

	// Errors: usage (2), unknown group (1), taken name, refused delete.
	var ee *exitError
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"group"}, 2, "usage: porthole group"},
		{[]string{"group", "frob"}, 2, `unknown group command "frob"`},
		{[]string{"group", "rename", "Lab Machines"}, 2, "usage: porthole group"},
		{[]string{"group", "create", " "}, 2, "group name required"},
		{[]string{"group", "delete", "Nowhere"}, 1, `no group "Nowhere"`},
		{[]string{"group", "rename", "Office", "Lab Machines"}, 1, `a group named "Lab Machines" already exists`},
		{[]string{"group", "delete", "Lab Machines"}, 1, "the group has entitlements: 1 (break_glass); delete them first or force the delete (porthole group delete " +
			lab + " --force"},
	} {
		err := run(ctx, tc.args, nil, io.Discard)
		code := 1
		if errors.As(err, &ee) {
			code = ee.code
		}
		if err == nil || code != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("porthole %s = %v (exit %d); want exit %d with %q", strings.Join(tc.args, " "), err, code, tc.code, tc.msg)
		}
	}

	out = runOK(t, "group", "delete", "Lab Machines", "--force")
	want := "Deleted group Lab Machines (" + lab + "). 1 device(s) now in no group (global settings apply).\n" +
		"Group settings removed: remote_support.consent_timeout\nEntitlements removed: break_glass\n"
	if out != want {
		t.Fatalf("delete:\n got %q\nwant %q", out, want)
	}
	var cur struct {
		GroupID string `json:"group_id"`
	}
	if err := authed(ctx, "GET", "/api/devices/"+dev+"/group", nil, &cur); err != nil || cur.GroupID != "" {
		t.Fatalf("device group after delete: %q %v", cur.GroupID, err)
	}
	if out := runOK(t, "group", "assign", dev, "Office", "--json"); !strings.Contains(out, `"group_id":"`+created.ID+`"`) {
		t.Fatalf("assign --json: %s", out)
	}
	if out := runOK(t, "group", "assign", dev, "none"); out != "Device "+dev+" is now in no group.\n" {
		t.Fatalf("assign none: %s", out)
	}
	if out := runOK(t, "group", "delete", created.ID, "--json"); !strings.Contains(out, `"devices_moved":0`) {
		t.Fatalf("delete --json: %s", out)
	}
}
