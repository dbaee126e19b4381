package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porthole/agent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/support"
)

// TestSessionRequestChecks: the broker refuses sessions the settings, the
// device state or the caller's role do not allow, with clear errors.
func TestSessionRequestChecks(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	// An endpoint whose user never answers: the prompt stays open.
	state := filepath.Join(t.TempDir(), "agent")
	cfg := agent.Config{StateDir: state, Displays: oneDisplay, Support: support.Config{Asker: consenttest.Unanswered{}}}
	if _, err := agent.Enroll(context.Background(), cfg, e.URL, admin.enrollToken(1, time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, cfg)
	waitFor(t, "agent online", 10*time.Second, func() bool { return admin.device(a.DeviceID()).Online })
	var aud struct{ Password string }
	admin.do("POST", "/api/users", map[string]string{"username": "audrey", "role": "auditor"}, &aud)
	auditor := e.login(t, "audrey", aud.Password)

	start := func(c *client, body map[string]any) (int, string) {
		return c.do("POST", "/api/sessions", body, nil)
	}
	dev := map[string]any{"device_id": a.DeviceID()}

	if st, body := start(auditor, dev); st != 403 {
		t.Fatalf("auditor started a session: %d %s", st, body)
	}
	if st, body := admin.do("PUT", "/api/settings/remote_support.allow", map[string]string{"scope": "device:" + a.DeviceID(), "value": "false"}, nil); st != 200 {
		t.Fatalf("set allow=false: %d %s", st, body)
	}
	if st, body := start(admin, dev); st != 403 || !strings.Contains(body, "not allowed") {
		t.Fatalf("session on a device with remote support off: %d %s", st, body)
	}
	if st, body := admin.do("PUT", "/api/settings/remote_support.allow", map[string]string{"scope": "device:" + a.DeviceID(), "value": "maybe"}, nil); st != 400 {
		t.Fatalf("bad setting value: %d %s", st, body)
	}
	admin.do("PUT", "/api/settings/remote_support.allow", map[string]string{"scope": "device:" + a.DeviceID(), "value": "true"}, nil)
	if st, body := start(admin, map[string]any{"device_id": "nosuchdevice"}); st != 404 {
		t.Fatalf("unknown device: %d %s", st, body)
	}
	if st, body := start(admin, map[string]any{"device_id": a.DeviceID(), "display": 3}); st != 409 {
		t.Fatalf("display the device does not have: %d %s", st, body)
	}
	// A second session on the same device while one is pending is refused.
	var s struct{ ID, State string }
	if st, body := admin.do("POST", "/api/sessions", dev, &s); st != 201 || s.State != "waiting_consent" {
		t.Fatalf("first session: %d %s", st, body)
	}
	if st, body := start(admin, dev); st != 409 || !strings.Contains(body, "already has") {
		t.Fatalf("second session: %d %s", st, body)
	}
	// The requester gives up while the prompt is open (Off): the end
	// user's prompt goes away and the reason is recorded.
	if st, body := admin.do("POST", "/api/sessions/"+s.ID+"/end", nil, nil); st != 200 {
		t.Fatalf("end: %d %s", st, body)
	}
	var v struct {
		State     string
		EndReason string `json:"end_reason"`
	}
	admin.do("GET", "/api/sessions/"+s.ID, nil, &v)
	if v.State != "ended" || v.EndReason != "ended by admin (Off)" {
		t.Fatalf("ended session: %+v", v)
	}
	// The settings change was audited with old and new values.
	if log := auditActions(t, admin, "remote_support.allow"); !strings.Contains(log, "new:false") {
		t.Fatalf("settings audit:\n%s", log)
	}
	// Offline device.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "agent offline", 5*time.Second, func() bool { return !admin.device(a.DeviceID()).Online })
	if st, body := start(admin, dev); st != 409 || !strings.Contains(body, "offline") {
		t.Fatalf("offline device: %d %s", st, body)
	}
}
