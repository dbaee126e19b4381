package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porthole/agent"
)

// TestEndpointRefusesUnattended: the broker's settings allow sessions
// without consent (remote_support.consent=unattended), yet an endpoint
// whose own policy is the default (deny) refuses one: the session is
// declined with "unattended refused by the endpoint's policy", which the
// audit log records; the portal shows each endpoint's policy from its
// inventory. An endpoint installed with --unattended allow runs it.
func TestEndpointRefusesUnattended(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	if st, body := admin.do("PUT", "/api/settings/remote_support.consent", map[string]string{"scope": "global", "value": "unattended"}, nil); st != 200 {
		t.Fatalf("setting: %d %s", st, body)
	}
	start := func(policy string) (string, *runningAgent) {
		t.Helper()
		cfg := agent.Config{StateDir: filepath.Join(t.TempDir(), "agent"), Displays: oneDisplay, Logger: testLogger(t), Unattended: policy}
		if _, err := agent.Enroll(context.Background(), cfg, e.URL, admin.enrollToken(1, time.Hour), ""); err != nil {
			t.Fatal(err)
		}
		ra := startAgent(t, cfg)
		waitFor(t, "agent online", 10*time.Second, func() bool { return admin.device(ra.DeviceID()).Online })
		var s struct{ ID string }
		if st, body := admin.do("POST", "/api/sessions", map[string]any{"device_id": ra.DeviceID()}, &s); st != 201 {
			t.Fatalf("start session: %d %s", st, body)
		}
		return s.ID, ra
	}
	policyOf := func(id string) string {
		var d struct {
			Policy string `json:"unattended_policy"`
		}
		admin.do("GET", "/api/devices/"+id, nil, &d)
		return d.Policy
	}

	refused, desk := start("")
	var sv sessionView
	waitFor(t, "the endpoint refuses the unattended session", 15*time.Second, func() bool {
		admin.do("GET", "/api/sessions/"+refused, nil, &sv)
		return sv.State == "declined"
	})
	if sv.EndReason != "unattended refused by the endpoint's policy" {
		t.Fatalf("end reason %q", sv.EndReason)
	}
	if log := auditActions(t, admin, refused); !strings.Contains(log, "answer:refused_by_policy") ||
		!strings.Contains(log, "unattended refused by the endpoint's policy") {
		t.Fatalf("audit of the refused session:\n%s", log)
	}
	if p := policyOf(desk.DeviceID()); p != "deny" {
		t.Fatalf("desktop's reported policy %q", p)
	}

	allowed, server := start("allow")
	waitFor(t, "the endpoint runs the unattended session", 15*time.Second, func() bool {
		return strings.Contains(auditActions(t, admin, allowed), "answer:unattended")
	})
	admin.do("GET", "/api/sessions/"+allowed, nil, &sv)
	if sv.State == "declined" {
		t.Fatalf("allowed endpoint declined: %+v", sv)
	}
	if p := policyOf(server.DeviceID()); p != "allow" {
		t.Fatalf("server's reported policy %q", p)
	}
	admin.do("POST", "/api/sessions/"+allowed+"/end", nil, nil)
}

// TestAgentPolicyFlag: the agent takes its policy from --unattended or its
// config file, and refuses any other value before it starts.
func TestAgentPolicyFlag(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(cfgFile, []byte(`{"unattended": "sometimes"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--unattended", "yes"}, {"--config", cfgFile}} {
		cmd := exec.Command(agentBin, append([]string{"run", "--state-dir", t.TempDir(), "--elevation=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "unattended policy") {
			t.Errorf("run %v: %v %s", args, err, out)
		}
	}
}
