package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/internal/browsertest"
)

// grantee is an approver (whose role may not connect, create break-glass
// accounts or issue codes) and the admin who approves their access
// requests for entitlements on the device's group.
type grantee struct {
	t     *testing.T
	admin *client
	c     *client
	pw    string
}

// newGrantee puts deviceID in a new group with entitlements names (one
// admin approval each) and creates the approver user.
func newGrantee(t *testing.T, e *env, admin *client, deviceID, user string, names ...string) *grantee {
	t.Helper()
	var g struct{ ID string }
	if st, body := admin.do("POST", "/api/groups", map[string]string{"name": "lab"}, &g); st != 201 {
		t.Fatalf("group: %d %s", st, body)
	}
	if st, body := admin.do("PUT", "/api/devices/"+deviceID+"/group", map[string]string{"group_id": g.ID}, nil); st != 200 {
		t.Fatalf("device group: %d %s", st, body)
	}
	pol := map[string]any{"approvers": []string{"role:admin"}, "approvals": 1, "max_duration_seconds": 14400}
	for _, name := range names {
		if st, body := admin.do("PUT", "/api/access/entitlements", map[string]any{"name": name, "group_id": g.ID, "request": pol}, nil); st != 200 {
			t.Fatalf("entitlement %s: %d %s", name, st, body)
		}
	}
	_, pw := newUser(t, admin, user, "approver")
	return &grantee{t: t, admin: admin, c: e.login(t, user, pw), pw: pw}
}

// grant requests the entitlement name, the admin approves it; it returns
// the request's id.
func (g *grantee) grant(name string) string {
	t := g.t
	t.Helper()
	var req struct{ ID string }
	if st, body := g.c.do("POST", "/api/access/requests", map[string]any{"entitlement": name, "duration_seconds": 3600,
		"justification": "INC-7 printer queue"}, &req); st != 201 {
		t.Fatalf("request %s: %d %s", name, st, body)
	}
	var v struct{ State string }
	if st, body := g.admin.do("POST", "/api/access/requests/"+req.ID+"/approve", nil, &v); st != 200 || v.State != "approved" {
		t.Fatalf("approve %s: %d %s", name, st, body)
	}
	return req.ID
}

// TestGrantStandsInForRole: an approver, whose role may not connect or
// issue codes, gets those rights on one device group only through access
// grants. Without a grant the broker refuses (and audits the refusal);
// with one the portal shows the controls, the approver runs a real
// session from it, and the session ends when the grant is revoked. An
// unattended_access grant, and nothing else (not even the admin role),
// lets a session skip the end user's prompt; that session ends when the
// device leaves the grants' group.
func TestGrantStandsInForRole(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	// The endpoint's own policy allows unattended sessions (a server).
	ep := startEndpoint(t, e, admin, "--unattended", "allow")
	ga := newGrantee(t, e, admin, ep.deviceID, "abby", "remote_support", "unattended_access", "elevation_codes")
	abby, pw, grant := ga.c, ga.pw, ga.grant
	rights := func() []string {
		var d struct{ Rights []string }
		if st, body := abby.do("GET", "/api/devices/"+ep.deviceID, nil, &d); st != 200 {
			t.Fatalf("device: %d %s", st, body)
		}
		return d.Rights
	}
	dev := map[string]any{"device_id": ep.deviceID}
	code := map[string]any{"minutes": 30}

	// No grant: refused with a pointer to the Access page, and audited.
	if r := rights(); len(r) != 0 {
		t.Fatalf("rights without a grant: %v", r)
	}
	if st, body := abby.do("POST", "/api/sessions", dev, nil); st != 403 || !strings.Contains(body, "no active access grant") {
		t.Fatalf("session without a grant: %d %s", st, body)
	}
	if st, body := abby.do("POST", "/api/devices/"+ep.deviceID+"/elevation-codes", code, nil); st != 403 {
		t.Fatalf("code without a grant: %d %s", st, body)
	}
	if log := auditActions(t, admin, ep.deviceID); !strings.Contains(log, "access.denied") {
		t.Fatalf("the refusal is not audited:\n%s", log)
	}

	// Grants for remote support and codes on the device's group.
	support := grant("remote_support")
	grant("elevation_codes")
	if r := rights(); !slices.Equal(r, []string{"connect", "elevation_codes"}) {
		t.Fatalf("rights with grants: %v", r)
	}
	var issued struct{ Code string }
	if st, body := abby.do("POST", "/api/devices/"+ep.deviceID+"/elevation-codes", code, &issued); st != 201 || issued.Code == "" {
		t.Fatalf("code under a grant: %d %s", st, body)
	}
	// The unattended switch needs its own grant, which the admin's role does not replace.
	if st, body := admin.do("POST", "/api/sessions", map[string]any{"device_id": ep.deviceID, "unattended": true}, nil); st != 403 ||
		!strings.Contains(body, "unattended_access grant") {
		t.Fatalf("unattended by role: %d %s", st, body)
	}

	// The approver connects from the portal; the end user still says Yes.
	ctx := browsertest.New(t)
	browsertest.Step(ctx, t, 30*time.Second,
		loginSteps(e, "abby", pw),
		chromedp.WaitVisible(css(`button[data-support="`+ep.deviceID+`"]`)),
		chromedp.Navigate(e.URL+"/#/devices/"+ep.deviceID),
		chromedp.WaitVisible(css(`#rs-screenshare`)), settled(),
	)
	if n := evalString(t, ctx, `String(document.querySelectorAll('#rs-unattended').length)`); n != "0" {
		t.Fatalf("the unattended switch shows without its grant (%s)", n)
	}
	// The device page shows the endpoint's own policy, from its inventory.
	if p := evalString(t, ctx, `document.getElementById('device-unattended-policy').textContent`); !strings.Contains(p, "allowed by the endpoint") {
		t.Fatalf("endpoint policy on the device page: %q", p)
	}
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`#rs-screenshare`)))
	waitViewerState(t, ctx, "waiting_consent", 10*time.Second)
	consenttest.Press(t, ep.x.Display, consent.Allowed)
	waitViewerState(t, ctx, "live", 20*time.Second)
	waitPatterns(t, ctx)
	var s struct {
		ID    string
		Grant string
	}
	if st, body := abby.do("GET", "/api/sessions/"+latestSession(t, admin, ep.deviceID).ID, nil, &s); st != 200 || s.Grant != support {
		t.Fatalf("session %d %s: want grant %s", st, body, support)
	}
	if log := auditActions(t, admin, s.ID); !strings.Contains(log, "grant:"+support) {
		t.Fatalf("session.requested does not name the grant:\n%s", log)
	}
	if log := auditActions(t, admin, ep.deviceID); !strings.Contains(log, "access.grant_used") {
		t.Fatalf("the grant's use is not audited:\n%s", log)
	}

	// Revoking the grant ends the session it carries, and the next one is refused.
	if st, body := admin.do("POST", "/api/access/requests/"+support+"/revoke", map[string]string{"comment": "done"}, nil); st != 200 {
		t.Fatalf("revoke: %d %s", st, body)
	}
	waitViewerState(t, ctx, "ended", 10*time.Second)
	if r := viewerReason(t, ctx); !strings.Contains(r, "access grant ended") {
		t.Fatalf("end reason %q", r)
	}
	if st, body := abby.do("POST", "/api/sessions", dev, nil); st != 403 {
		t.Fatalf("session after the revoke: %d %s", st, body)
	}

	// Unattended access: the switch shows, and the session goes live with no prompt.
	grant("remote_support")
	grant("unattended_access")
	if r := rights(); !slices.Equal(r, []string{"connect", "unattended", "elevation_codes"}) {
		t.Fatalf("rights with the unattended grant: %v", r)
	}
	browsertest.Step(ctx, t, 30*time.Second,
		chromedp.Navigate(e.URL+"/#/devices/"+ep.deviceID),
		chromedp.WaitVisible(css(`#rs-unattended`)), settled(),
		chromedp.Click(css(`#rs-unattended`)),
		chromedp.Click(css(`#rs-screenshare`)),
	)
	waitViewerState(t, ctx, "live", 20*time.Second)
	waitPatterns(t, ctx)
	id := latestSession(t, admin, ep.deviceID).ID
	if log := auditActions(t, admin, id); !strings.Contains(log, "consent_mode:unattended") || !strings.Contains(log, "unattended_by_grant:true") {
		t.Fatalf("the unattended session's audit:\n%s", log)
	}
	// The device leaves the group: the grants no longer cover it, and the
	// session they carry ends.
	if st, body := admin.do("PUT", "/api/devices/"+ep.deviceID+"/group", map[string]string{"group_id": ""}, nil); st != 200 {
		t.Fatalf("ungroup: %d %s", st, body)
	}
	waitViewerState(t, ctx, "ended", 10*time.Second)
	if r := viewerReason(t, ctx); !strings.Contains(r, "access grant ended") {
		t.Fatalf("end reason after the device left the group %q", r)
	}
	if r := rights(); len(r) != 0 {
		t.Fatalf("rights outside the group: %v", r)
	}
}

// TestBreakGlassUnderGrant: a break_glass grant lets an approver create and
// revoke a break-glass account on the group's device (in a throwaway
// accounts root), and nothing once the grant is revoked.
func TestBreakGlassUnderGrant(t *testing.T) {
	e, admin, root, dev := startBGDevice(t, nil)
	ga := newGrantee(t, e, admin, dev, "bert", "break_glass")
	create := func() (int, string, bgGrant) {
		var g bgGrant
		st, body := ga.c.do("POST", "/api/devices/"+dev+"/breakglass", map[string]any{"duration_seconds": 1800}, &g)
		return st, body, g
	}
	if st, body, _ := create(); st != 403 || !strings.Contains(body, "no active access grant") {
		t.Fatalf("break glass without a grant: %d %s", st, body)
	}
	id := ga.grant("break_glass")
	st, body, g := create()
	if st != 201 || g.Username == "" || !root.UserExists(t, g.Username) {
		t.Fatalf("break glass under the grant: %d %s", st, body)
	}
	if st, body := ga.c.do("POST", "/api/breakglass/"+g.ID+"/revoke", nil, nil); st != 200 {
		t.Fatalf("revoke the account under the grant: %d %s", st, body)
	}
	if root.UserExists(t, g.Username) {
		t.Fatal("the account exists after its revoke")
	}
	if st, body := admin.do("POST", "/api/access/requests/"+id+"/revoke", nil, nil); st != 200 {
		t.Fatalf("revoke the grant: %d %s", st, body)
	}
	if st, body, _ := create(); st != 403 {
		t.Fatalf("break glass after the grant's revoke: %d %s", st, body)
	}
	if log := auditActions(t, admin, dev); strings.Count(log, "access.grant_used") != 2 {
		t.Fatalf("want two audited uses of the grant:\n%s", log)
	}
}
