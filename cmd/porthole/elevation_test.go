package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"porthole/agent/identity"
	"porthole/internal/elevcode"
)

// TestCodeIssue issues a code with the CLI and checks that the enrolled
// agent's secret verifies it for that device and user only.
func TestCodeIssue(t *testing.T) {
	ctx := context.Background()
	cfg, id := loginAndEnroll(t)
	state := cfg.StateDir
	var out bytes.Buffer
	out.Reset()
	if err := run(ctx, []string{"code", "issue", "--device", id.DeviceID, "--user", "bob", "--for", "30m"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\n    (\S{4}-\S{4}-\S{4})\n`).FindStringSubmatch(out.String())
	if m == nil || !strings.Contains(out.String(), "for bob") || !strings.Contains(out.String(), "porthole-agent elevate") {
		t.Fatalf("no code in:\n%s", out.String())
	}
	saved, err := identity.Load(state)
	if err != nil {
		t.Fatal(err)
	}
	g, err := elevcode.Verify(saved.DeviceSecret, id.DeviceID, "bob", m[1], time.Now(), 0)
	if err != nil || g.Duration != 30*time.Minute {
		t.Fatalf("agent-side verify: %+v %v", g, err)
	}
	if _, err := elevcode.Verify(saved.DeviceSecret, id.DeviceID, "eve", m[1], time.Now(), 0); !errors.Is(err, elevcode.ErrBadCode) {
		t.Errorf("code works for another user: %v", err)
	}
	out.Reset()
	if err := run(ctx, []string{"elevations", "list", "--device", id.DeviceID}, nil, &out); err != nil || !strings.Contains(out.String(), "No elevations") {
		t.Errorf("elevations list: %v\n%s", err, out.String())
	}
	var ee *exitError
	for _, args := range [][]string{
		{"code", "issue", "--device", id.DeviceID, "--for", "7m"},
		{"code", "issue", "--for", "30m"},
		{"code", "issue", "--device", id.DeviceID, "--user", "a b"},
		{"elevations", "list"},
	} {
		if err := run(ctx, args, nil, &out); !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%q: %v, want usage error", args, err)
		}
	}
	// Above the elevation.max_minutes setting (60 by default): refused by the broker.
	if err := run(ctx, []string{"code", "issue", "--device", id.DeviceID, "--for", "2h"}, nil, &out); err == nil ||
		!strings.Contains(err.Error(), "max_minutes") {
		t.Errorf("2h code: %v", err)
	}
}
