package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"porthole/agent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/support"
)

// quietAgent enrolls and runs an in-process agent whose end user never
// answers (sessions wait for consent) and returns its device id.
func quietAgent(t *testing.T, e *env, admin *client) string {
	t.Helper()
	cfg := agent.Config{StateDir: filepath.Join(t.TempDir(), "agent"), Displays: oneDisplay, Support: support.Config{Asker: consenttest.Unanswered{}},
		Logger: testLogger(t)}
	if _, err := agent.Enroll(context.Background(), cfg, e.URL, admin.enrollToken(1, time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, cfg)
	waitFor(t, "agent online", 10*time.Second, func() bool { return admin.device(a.DeviceID()).Online })
	return a.DeviceID()
}

// quietDevice is a quietAgent in a new group; it returns the device and group ids.
func quietDevice(t *testing.T, e *env, admin *client, group string) (deviceID, groupID string) {
	t.Helper()
	deviceID = quietAgent(t, e, admin)
	var g struct{ ID string }
	if st, body := admin.do("POST", "/api/groups", map[string]string{"name": group}, &g); st != 201 {
		t.Fatalf("group: %d %s", st, body)
	}
	if st, body := admin.do("PUT", "/api/devices/"+deviceID+"/group", map[string]string{"group_id": g.ID}, nil); st != 200 {
		t.Fatalf("device group: %d %s", st, body)
	}
	return deviceID, g.ID
}

func rightsOn(t *testing.T, c *client, deviceID string) []string {
	t.Helper()
	var d struct{ Rights []string }
	if st, body := c.do("GET", "/api/devices/"+deviceID, nil, &d); st != 200 {
		t.Fatalf("device: %d %s", st, body)
	}
	return d.Rights
}

func endSession(t *testing.T, c *client, id string) {
	t.Helper()
	if st, body := c.do("POST", "/api/sessions/"+id+"/end", nil, nil); st != 200 {
		t.Fatalf("end %s: %d %s", id, st, body)
	}
}

// TestZeroStandingPrivilege: a technician bound to group A acts on A's
// devices only; with access.standing = none a technician reaches a device
// only through an active access grant (connect, elevation codes, break
// glass), a session they run by role ends when the setting changes, and
// admins keep their rights.
func TestZeroStandingPrivilege(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	devA, groupA := quietDevice(t, e, admin, "lab")
	devB, _ := quietDevice(t, e, admin, "office")
	all := []string{"connect", "break_glass", "elevation_codes"}
	start := func(c *client, dev string) (int, string, string) {
		var s struct{ ID string }
		st, body := c.do("POST", "/api/sessions", map[string]any{"device_id": dev}, &s)
		return st, body, s.ID
	}
	code := map[string]any{"minutes": 30}

	// A technician bound to group A.
	gabeID, gpw := newUser(t, admin, "gabe", "technician")
	var res lifecycleResult
	if st, body := admin.do("PUT", "/api/users/"+gabeID+"/role", map[string]any{"role": "technician", "groups": []string{groupA}}, &res); st != 200 ||
		!slices.Equal(res.User.Groups, []string{groupA}) {
		t.Fatalf("bind gabe to A: %d %s", st, body)
	}
	gabe := e.login(t, "gabe", gpw)
	if r := rightsOn(t, gabe, devA); !slices.Equal(r, all) {
		t.Fatalf("gabe's rights on A's device: %v", r)
	}
	if r := rightsOn(t, gabe, devB); len(r) != 0 {
		t.Fatalf("gabe's rights on B's device: %v", r)
	}
	if st, body, _ := start(gabe, devB); st != 403 || !strings.Contains(body, "other device groups") {
		t.Fatalf("gabe on B: %d %s", st, body)
	}
	if st, body := gabe.do("POST", "/api/devices/"+devB+"/elevation-codes", code, nil); st != 403 {
		t.Fatalf("gabe's code on B: %d %s", st, body)
	}
	st, body, sid := start(gabe, devA)
	if st != 201 {
		t.Fatalf("gabe on A: %d %s", st, body)
	}
	endSession(t, gabe, sid)
	if st, body := gabe.do("POST", "/api/devices/"+devA+"/elevation-codes", code, nil); st != 201 {
		t.Fatalf("gabe's code on A: %d %s", st, body)
	}
	if st, body := admin.do("PUT", "/api/users/"+gabeID+"/role", map[string]any{"role": "auditor", "groups": []string{groupA}}, nil); st != 400 ||
		!strings.Contains(body, "only the technician role") {
		t.Fatalf("bind an auditor: %d %s", st, body)
	}

	// A technician with standing access runs a session by role; then
	// standing access goes off and that session ends.
	_, tpw := newUser(t, admin, "tina", "technician")
	tina := e.login(t, "tina", tpw)
	st, body, running := start(tina, devB)
	if st != 201 {
		t.Fatalf("tina by role: %d %s", st, body)
	}
	if st, body := admin.do("PUT", "/api/settings/access.standing", map[string]string{"scope": "group:" + groupA, "value": "none"}, nil); st != 400 {
		t.Fatalf("access.standing at group scope: %d %s", st, body)
	}
	if st, body := admin.do("PUT", "/api/settings/access.standing", map[string]string{"scope": "global", "value": "none"}, nil); st != 200 {
		t.Fatalf("access.standing none: %d %s", st, body)
	}
	var v struct {
		State     string
		EndReason string `json:"end_reason"`
	}
	waitFor(t, "tina's session to end", 5*time.Second, func() bool {
		admin.do("GET", "/api/sessions/"+running, nil, &v)
		return v.State == "ended"
	})
	if !strings.Contains(v.EndReason, "access changed") {
		t.Fatalf("end reason %q", v.EndReason)
	}

	// No grant: nothing, on any device, bound or not.
	for _, c := range []*client{tina, gabe} {
		if r := rightsOn(t, c, devA); len(r) != 0 {
			t.Fatalf("rights without a grant: %v", r)
		}
		if st, body, _ := start(c, devA); st != 403 || !strings.Contains(body, "access.standing = none") {
			t.Fatalf("session without a grant: %d %s", st, body)
		}
		if st, body := c.do("POST", "/api/devices/"+devA+"/elevation-codes", code, nil); st != 403 {
			t.Fatalf("code without a grant: %d %s", st, body)
		}
		if st, body := c.do("POST", "/api/devices/"+devA+"/breakglass", map[string]any{"duration_seconds": 600}, nil); st != 403 {
			t.Fatalf("break glass without a grant: %d %s", st, body)
		}
	}
	if log := auditActions(t, admin, devA); !strings.Contains(log, "access.denied") {
		t.Fatalf("refusals not audited:\n%s", log)
	}
	// Admins keep their rights.
	if r := rightsOn(t, admin, devA); !slices.Equal(r, all) {
		t.Fatalf("admin's rights under none: %v", r)
	}
	st, body, sid = start(admin, devA)
	if st != 201 {
		t.Fatalf("admin under none: %d %s", st, body)
	}
	endSession(t, admin, sid)

	// Grants on group A give tina exactly A's device.
	pol := map[string]any{"approvers": []string{"role:admin"}, "approvals": 1, "max_duration_seconds": 14400}
	for _, name := range []string{"remote_support", "break_glass", "elevation_codes"} {
		if st, body := admin.do("PUT", "/api/access/entitlements", map[string]any{"name": name, "group_id": groupA, "request": pol}, nil); st != 200 {
			t.Fatalf("entitlement %s: %d %s", name, st, body)
		}
		var req struct{ ID string }
		if st, body := tina.do("POST", "/api/access/requests", map[string]any{"entitlement": name, "group": groupA, "duration_seconds": 3600,
			"justification": "INC-12"}, &req); st != 201 {
			t.Fatalf("request %s: %d %s", name, st, body)
		}
		if st, body := admin.do("POST", "/api/access/requests/"+req.ID+"/approve", nil, nil); st != 200 {
			t.Fatalf("approve %s: %d %s", name, st, body)
		}
	}
	if r := rightsOn(t, tina, devA); !slices.Equal(r, all) {
		t.Fatalf("tina's rights with grants: %v", r)
	}
	if r := rightsOn(t, tina, devB); len(r) != 0 {
		t.Fatalf("tina's rights on B with A's grants: %v", r)
	}
	var s struct{ ID, Grant string }
	if st, body := tina.do("POST", "/api/sessions", map[string]any{"device_id": devA}, &s); st != 201 || s.Grant == "" {
		t.Fatalf("session under a grant: %d %s", st, body)
	}
	endSession(t, tina, s.ID)
	if st, body := tina.do("POST", "/api/devices/"+devA+"/elevation-codes", code, nil); st != 201 {
		t.Fatalf("code under a grant: %d %s", st, body)
	}
	// The grant lets the request through to break glass itself (which
	// refuses the empty body: nothing is created on this machine).
	if st, body := tina.do("POST", "/api/devices/"+devA+"/breakglass", map[string]any{}, nil); st != 400 {
		t.Fatalf("break glass under a grant: %d %s", st, body)
	}
	if st, body, _ := start(tina, devB); st != 403 {
		t.Fatalf("tina on B under A's grant: %d %s", st, body)
	}

	// Back to standing access by role.
	admin.do("PUT", "/api/settings/access.standing", map[string]string{"scope": "global", "value": "role"}, nil)
	st, body, sid = start(tina, devB)
	if st != 201 {
		t.Fatalf("tina by role again: %d %s", st, body)
	}
	endSession(t, tina, sid)
}
