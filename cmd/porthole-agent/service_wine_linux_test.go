package main

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porthole/agent/identity"
	"porthole/internal/wine"
)

// TestWindowsServiceUnderWine drives the real porthole-agent.exe (cgo,
// static libvpx) through Wine 8's service control manager: install (with
// an enrollment already in the state directory) registers and starts the
// service, the service runs the agent (its log in the state directory
// says so), and uninstall stops it, applies the (empty) journals, deletes
// the service and removes the state directory.
func TestWindowsServiceUnderWine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Windows agent")
	}
	if err := wine.Check(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	exe := filepath.Join(t.TempDir(), "porthole-agent.exe")
	if err := wine.BuildGo(ctx, wine.BuildOptions{Pkg: ".", Out: exe, CGO: true}); err != nil {
		t.Fatal(err)
	}
	p := wine.NewPrefixT(t)

	// An enrollment with a broker nobody answers: the agent starts and
	// keeps trying to connect.
	state := filepath.Join(t.TempDir(), "Porthole Agent") // a space, as in %ProgramData%\Porthole Agent
	key, err := identity.LoadOrCreateKey(state)
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if err := identity.Save(state, identity.Identity{BrokerURL: "http://127.0.0.1:9", DeviceID: "dev-wine", DeviceSecret: secret, Key: key}); err != nil {
		t.Fatal(err)
	}
	winState := `Z:` + strings.ReplaceAll(state, "/", `\`)
	agentCmd := func(args ...string) string {
		t.Helper()
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Minute)
		defer ccancel()
		out, err := p.Command(cctx, "", exe, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("porthole-agent %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	scQuery := func() string {
		cctx, ccancel := context.WithTimeout(ctx, time.Minute)
		defer ccancel()
		out, _ := p.Command(cctx, "", "sc", "query", "PortholeAgent").CombinedOutput()
		return string(out)
	}

	out := agentCmd("install", "--state-dir", winState)
	if !strings.Contains(out, "Already enrolled as device dev-wine") || !strings.Contains(out, `installed and started`) ||
		!strings.Contains(out, `service --state-dir "`+winState+`"`) {
		t.Fatalf("install said:\n%s", out)
	}
	logPath := filepath.Join(state, "agent.log")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), "agent starting") && strings.Contains(string(b), "dev-wine") {
			t.Logf("service log:\n%s", b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not start the agent; log:\n%s\nsc query:\n%s", b, scQuery())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if q := scQuery(); !strings.Contains(q, "RUNNING") {
		t.Fatalf("sc query PortholeAgent:\n%s", q)
	}

	out = agentCmd("uninstall", "--state-dir", winState, "--deliver-timeout", "2s")
	if !strings.Contains(out, "Removed every break-glass account and elevation grant") || !strings.Contains(out, "removed") {
		t.Fatalf("uninstall said:\n%s", out)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("state dir after uninstall: %v", err)
	}
	deadline = time.Now().Add(time.Minute)
	for q := scQuery(); strings.Contains(q, "SERVICE_NAME: PortholeAgent"); q = scQuery() {
		if time.Now().After(deadline) {
			t.Fatalf("service still there after uninstall:\n%s", q)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
