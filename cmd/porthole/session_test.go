package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"porthole/agent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/support"
	"porthole/internal/wire"
)

// TestSessionListTerminate: "porthole session list" shows a session the
// broker holds open, "session terminate" ends it, and the list then shows
// how it ended; --json gives scripts the broker's fields.
func TestSessionListTerminate(t *testing.T) {
	url, pw := startBroker(t)
	t.Setenv("PORTHOLE_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"login", "--broker", url, "--user", "admin", "--password-stdin"}, strings.NewReader(pw+"\n"), &out); err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	if err := authed(ctx, "POST", "/api/enroll-tokens", wire.TokenRequest{MaxUses: 1, ExpiresInSeconds: 600}, &tok); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	displays := func() ([]wire.Display, error) { return []wire.Display{{Width: 640, Height: 480, Primary: true}}, nil }
	cfg := agent.Config{StateDir: state, Displays: displays, Support: support.Config{Asker: consenttest.Unanswered{}}}
	id, err := agent.Enroll(ctx, cfg, url, tok.Token, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() { stop(); <-done }()
	select {
	case <-a.Connected():
	case <-time.After(10 * time.Second):
		t.Fatal("agent never connected")
	}

	out.Reset()
	if err := run(ctx, []string{"session", "list"}, nil, &out); err != nil || !strings.Contains(out.String(), "(none)") {
		t.Fatalf("empty list: %v\n%s", err, out.String())
	}
	var s session
	if err := authed(ctx, "POST", "/api/sessions", map[string]any{"device_id": id.DeviceID}, &s); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"session", "list", "--device", id.DeviceID}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), s.ID) || !strings.Contains(out.String(), "waiting_consent") || !strings.Contains(out.String(), "STATE") {
		t.Fatalf("list:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"session", "terminate", s.ID}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ended (ended by admin (Off))") {
		t.Fatalf("terminate:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"session", "list", "--json"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	var got []session
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 1 || got[0].State != "ended" || got[0].EndedAt == nil {
		t.Fatalf("json list: %v %s", err, out.String())
	}

	var ee *exitError
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"session"}, 2},
		{[]string{"session", "terminate"}, 2},
		{[]string{"session", "frobnicate"}, 2},
	} {
		if err := run(ctx, tc.args, nil, &out); !errors.As(err, &ee) || ee.code != tc.code {
			t.Fatalf("%v: %v, want exit %d", tc.args, err, tc.code)
		}
	}
	if err := run(ctx, []string{"session", "terminate", "nosuchsession"}, nil, &out); err == nil || !strings.Contains(err.Error(), "no such session") {
		t.Fatalf("unknown session: %v", err)
	}
}

func TestIDArg(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		id   string
		rest []string
		ok   bool
	}{
		{"id then flags", []string{"AbC", "--json"}, "AbC", []string{"--json"}, true},
		{"id alone", []string{"AbC"}, "AbC", []string{}, true},
		{"dashed id after --", []string{"--", "-AbC", "--json"}, "-AbC", []string{"--json"}, true},
		{"flag first", []string{"--json", "AbC"}, "", nil, false},
		{"dashed id without --", []string{"-AbC"}, "", nil, false},
		{"nothing", nil, "", nil, false},
		{"empty id", []string{""}, "", nil, false},
		{"-- then nothing", []string{"--"}, "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, rest, ok := idArg(tc.args)
			if id != tc.id || ok != tc.ok || !slices.Equal(rest, tc.rest) {
				t.Fatalf("idArg(%q) = %q, %q, %v", tc.args, id, rest, ok)
			}
		})
	}
}
