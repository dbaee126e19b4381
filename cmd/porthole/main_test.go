package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"porthole/agent"
	"porthole/broker"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

func startBroker(t *testing.T) (url, password string) {
	t.Helper()
	return startBrokerClock(t, nil)
}

// startBrokerClock is startBroker on clk (nil: the real clock).
func startBrokerClock(t *testing.T, clk clock.Clock) (url, password string) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := broker.New(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Out: &out, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	m := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(out.String())
	return srv.URL(), m[1]
}

func TestLoginTokenDevices(t *testing.T) {
	url, pw := startBroker(t)
	t.Setenv("PORTHOLE_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	ctx := context.Background()
	var out bytes.Buffer

	// Before login: a clear error and exit code 3.
	err := run(ctx, []string{"devices"}, nil, &out)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 3 {
		t.Fatalf("devices before login: %v", err)
	}
	if err := run(ctx, []string{"login", "--broker", url, "--user", "admin", "--password-stdin"}, strings.NewReader("wrong\n"), &out); err == nil ||
		!strings.Contains(err.Error(), "invalid username or password") {
		t.Fatalf("wrong password: %v", err)
	}
	if err := run(ctx, []string{"login", "--broker", url, "--user", "admin", "--password-stdin"}, strings.NewReader(pw+"\n"), &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"token", "create", "--uses", "2", "--expires", "1h", "--note", "lab"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	tok := regexp.MustCompile(`--token (phe_\S+)`).FindStringSubmatch(out.String())
	if tok == nil {
		t.Fatalf("no token in output:\n%s", out.String())
	}
	// The token enrolls a real agent, which then shows in "devices".
	state := t.TempDir()
	id, err := agent.Enroll(ctx, agent.Config{StateDir: state, Displays: func() ([]wire.Display, error) { return nil, nil }}, url, tok[1], "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Config{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out.Reset()
		if err := run(ctx, []string{"devices"}, nil, &out); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), id.DeviceID) && strings.Contains(out.String(), "online") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("device never online in:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	out.Reset()
	if err := run(ctx, []string{"audit", "--action", "device.enrolled"}, nil, &out); err != nil || !strings.Contains(out.String(), id.DeviceID) {
		t.Fatalf("audit: %v\n%s", err, out.String())
	}
	// Usage errors exit 2.
	if err := run(ctx, []string{"token", "create", "--uses", "0"}, nil, io.Discard); !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("bad --uses: %v", err)
	}
}
