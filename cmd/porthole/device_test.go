package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"porthole/agent"
	"porthole/agent/identity"
	"porthole/internal/wire"
)

// TestDeviceRotateKey: "porthole device rotate-key" reports a pending
// rotation while the agent is offline and a done one when the agent stores
// the key within --wait; the agent's saved key changes.
func TestDeviceRotateKey(t *testing.T) {
	ctx := context.Background()
	cfg, id := loginAndEnroll(t)
	state := cfg.StateDir
	var out bytes.Buffer
	out.Reset()
	if err := run(ctx, []string{"device", "rotate-key", id.DeviceID, "--wait", "0"}, nil, &out); err != nil ||
		!strings.Contains(out.String(), "is pending: the agent picks up its new key when it is online") {
		t.Fatalf("offline rotation: %v\n%s", err, out.String())
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() { stop(); <-done }()
	<-a.Connected()
	out.Reset()
	if err := run(ctx, []string{"device", "rotate-key", id.DeviceID, "--json"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	var rot struct {
		DeviceID string `json:"device_id"`
		ID       string `json:"rotation_id"`
		State    string `json:"state"`
	}
	if err := json.Unmarshal(out.Bytes(), &rot); err != nil || rot.State != "done" || rot.DeviceID != id.DeviceID {
		t.Fatalf("online rotation: %v %s", err, out.String())
	}
	saved, err := identity.Load(state)
	if err != nil || bytes.Equal(saved.DeviceSecret, id.DeviceSecret) {
		t.Fatalf("the agent's key did not change: %v", err)
	}
	var ee *exitError
	for _, args := range [][]string{{"device"}, {"device", "rotate-key"}, {"device", "rotate-key", "x", "--wait", "5m"}, {"device", "frob", "x"}} {
		if err := run(ctx, args, nil, io.Discard); !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: %v, want usage error", args, err)
		}
	}
	if err := run(ctx, []string{"device", "rotate-key", "nosuch"}, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown device: %v", err)
	}
}

// loginAndEnroll starts a broker, logs the CLI in as its admin, and enrolls
// an agent (not running) with a token the CLI created.
func loginAndEnroll(t *testing.T) (agent.Config, identity.Identity) {
	t.Helper()
	url, pw := startBroker(t)
	t.Setenv("PORTHOLE_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"login", "--broker", url, "--user", "admin", "--password-stdin"}, strings.NewReader(pw+"\n"), &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"token", "create"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	tok := regexp.MustCompile(`--token (phe_\S+)`).FindStringSubmatch(out.String())
	cfg := agent.Config{StateDir: t.TempDir(), Displays: func() ([]wire.Display, error) { return nil, nil }}
	id, err := agent.Enroll(ctx, cfg, url, tok[1], "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg, id
}
