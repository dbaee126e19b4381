package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/internal/browsertest"
)

// effectiveSetting returns a device's effective value of key and its source.
func effectiveSetting(t *testing.T, c *client, deviceID, key string) (value, source string) {
	t.Helper()
	var vals []struct{ Key, Value, Source string }
	if st, body := c.do("GET", "/api/settings?device="+url.QueryEscape(deviceID), nil, &vals); st != 200 {
		t.Fatalf("settings: %d %s", st, body)
	}
	for _, v := range vals {
		if v.Key == key {
			return v.Value, v.Source
		}
	}
	t.Fatalf("no setting %s", key)
	return "", ""
}

// TestGroupRenameDeleteInPortal: an admin renames a group holding a
// connected device on the Settings page, then deletes it after a
// confirmation that lists the consequences. The device falls back to no
// group (its device page says so, and the value comes from global), the
// agent gets the new value pushed, and both steps are audited.
func TestGroupRenameDeleteInPortal(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	ra := enrollAgent(t, e, admin.enrollToken(1, time.Hour), oneDisplay)
	dev := ra.DeviceID()
	const key = "remote_support.consent_timeout"
	must := func(method, path string, body, out any) {
		t.Helper()
		if st, res := admin.do(method, path, body, out); st >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, st, res)
		}
	}
	var g struct{ ID string }
	must("POST", "/api/groups", map[string]string{"name": "Lab"}, &g)
	must("POST", "/api/groups", map[string]string{"name": "Office"}, nil)
	must("PUT", "/api/devices/"+dev+"/group", map[string]string{"group_id": g.ID}, nil)
	must("PUT", "/api/settings/"+key, map[string]string{"scope": "global", "value": "45"}, nil)
	must("PUT", "/api/settings/"+key, map[string]string{"scope": "group:" + g.ID, "value": "30"}, nil)
	waitFor(t, "group value at the agent", 10*time.Second, func() bool { return ra.Settings()[key] == "30" })

	ctx := browsertest.New(t)
	portalLogin(t, ctx, e)
	browsertest.Step(ctx, t, 10*time.Second,
		chromedp.Navigate(e.URL+"/#/settings"),
		chromedp.WaitVisible(css(`#settings-scope`)),
		chromedp.Evaluate[chromedp.Void](`window.confirm = (m) => { window.confirmed = m; return true; }; undefined`))
	if hidden := evalString(t, ctx, `String(document.getElementById('group-actions').hidden)`); hidden != "true" {
		t.Fatalf("group actions shown for the global scope (hidden=%s)", hidden)
	}
	evalString(t, ctx, `(() => { const s = document.getElementById('settings-scope'); s.value = 'group:`+g.ID+`';
		s.dispatchEvent(new Event('change')); return ''; })()`)
	scopeLabel := func() string {
		return evalString(t, ctx, `(() => { const s = document.getElementById('settings-scope'); return s.options[s.selectedIndex].textContent; })()`)
	}
	// A group's table offers no global-only key (the broker would refuse it).
	waitFor(t, "the group's settings table", 10*time.Second, func() bool {
		return evalString(t, ctx, `(() => { const t = document.getElementById('settings-table'); return t ? t.dataset.scope : ''; })()`) == "group:"+g.ID
	})
	if n := evalString(t, ctx, `String(document.querySelectorAll('tr[data-setting="mfa.require_portal"], tr[data-setting="recording.retention_days"], tr[data-setting^="notify."]').length)`); n != "0" ||
		evalString(t, ctx, `String(document.querySelectorAll('tr[data-setting="`+key+`"]').length)`) != "1" {
		t.Fatalf("group scope shows %s global-only settings", n)
	}

	// Rename: a taken name is refused inline, a free one renames.
	setAndClick(t, ctx, "group-rename-name", "Office", `#group-rename`)
	waitFor(t, "duplicate name refused", 10*time.Second, func() bool {
		return strings.Contains(evalString(t, ctx, `document.getElementById('group-action-error').textContent`), `a group named "Office" already exists`)
	})
	setAndClick(t, ctx, "group-rename-name", "Lab Machines", `#group-rename`)
	waitFor(t, "renamed in the selector", 10*time.Second, func() bool { return scopeLabel() == "Group: Lab Machines (1 device)" })

	// Delete: the confirmation lists the consequences; the page returns to global.
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`#group-delete`)))
	waitFor(t, "back to the global scope", 10*time.Second, func() bool {
		return evalString(t, ctx, `document.getElementById('settings-table')?.dataset.scope || ''`) == "global"
	})
	want := "Delete group Lab Machines? 1 device falls back to no group (global settings apply); 1 group setting is removed (remote_support.consent_timeout)."
	if got := evalString(t, ctx, `window.confirmed || ''`); got != want {
		t.Fatalf("confirmation:\n got %q\nwant %q", got, want)
	}
	if opts := evalString(t, ctx, `Array.from(document.getElementById('settings-scope').options).map((o) => o.textContent).join('|')`); strings.Contains(opts, "Lab") {
		t.Fatalf("deleted group still offered: %s", opts)
	}

	// The device page shows no group and the global value.
	browsertest.Step(ctx, t, 10*time.Second,
		chromedp.Navigate(e.URL+"/#/devices/"+dev),
		chromedp.WaitVisible(css(`#device-group`)), settled())
	waitFor(t, "device page without group", 10*time.Second, func() bool {
		return evalString(t, ctx, `(() => { const s = document.getElementById('device-group'); const r = document.querySelector('tr[data-effective="`+key+`"]');
			return s && r ? s.options[s.selectedIndex].textContent + ' / ' + r.querySelector('.value').textContent + ' from ' + r.querySelector('.source').textContent : ''; })()`) ==
			"(no group) / 45 from global"
	})
	if v, src := effectiveSetting(t, admin, dev, key); v != "45" || src != "global" {
		t.Fatalf("effective after delete: %s from %s", v, src)
	}
	waitFor(t, "global value pushed to the agent", 5*time.Second, func() bool { return ra.Settings()[key] == "45" })

	var recs []struct {
		Action  string
		Target  string
		Details map[string]any
	}
	admin.do("GET", "/api/audit?limit=1000&action=group.renamed", nil, &recs)
	if len(recs) != 1 || recs[0].Target != g.ID || recs[0].Details["old"] != "Lab" || recs[0].Details["new"] != "Lab Machines" {
		t.Errorf("group.renamed audit: %+v", recs)
	}
	admin.do("GET", "/api/audit?limit=1000&action=group.deleted", nil, &recs)
	if len(recs) != 1 || recs[0].Details["name"] != "Lab Machines" || recs[0].Details["devices_moved"] != float64(1) ||
		len(recs[0].Details["settings_removed"].([]any)) != 1 {
		t.Errorf("group.deleted audit: %+v", recs)
	}
}

// TestDeleteGroupWithEntitlements: a group that entitlements are defined
// on is refused (409, naming them) without ?force=true; forced, the
// entitlements go with it, their grants in force are revoked, and the
// answer and the audit record say so.
func TestDeleteGroupWithEntitlements(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	var g struct{ ID string }
	if st, body := admin.do("POST", "/api/groups", map[string]string{"name": "Vault"}, &g); st != 201 {
		t.Fatalf("group: %d %s", st, body)
	}
	ent := map[string]any{"name": "break_glass", "group_id": g.ID,
		"request": map[string]any{"approvers": []string{"role:approver"}, "approvals": 1, "max_duration_seconds": 3600}}
	if st, body := admin.do("PUT", "/api/access/entitlements", ent, nil); st != 200 {
		t.Fatalf("entitlement: %d %s", st, body)
	}
	if st, body := admin.do("DELETE", "/api/groups/"+g.ID, nil, nil); st != 409 || !strings.Contains(body, "the group has entitlements: 1 (break_glass); delete them first") {
		t.Fatalf("unforced delete: %d %s", st, body)
	}
	var groups []any
	if admin.do("GET", "/api/groups", nil, &groups); len(groups) != 1 {
		t.Fatalf("group gone after a refused delete: %v", groups)
	}
	// A grant in force on the group goes with it.
	_, tpw := newUser(t, admin, "tina", "technician")
	tina := e.login(t, "tina", tpw)
	var req struct{ ID string }
	if st, body := tina.do("POST", "/api/access/requests", map[string]any{"entitlement": "break_glass", "duration_seconds": 3600,
		"justification": "INC-3"}, &req); st != 201 {
		t.Fatalf("request: %d %s", st, body)
	}
	_, vpw := newUser(t, admin, "val", "approver")
	if st, body := e.login(t, "val", vpw).do("POST", "/api/access/requests/"+req.ID+"/approve", nil, nil); st != 200 {
		t.Fatalf("approve: %d %s", st, body)
	}
	var res struct {
		DevicesMoved  int      `json:"devices_moved"`
		Entitlements  []string `json:"entitlements_removed"`
		GrantsRevoked []string `json:"grants_revoked"`
	}
	if st, body := admin.do("DELETE", "/api/groups/"+g.ID+"?force=true", nil, &res); st != 200 || len(res.Entitlements) != 1 || res.Entitlements[0] != "break_glass" ||
		len(res.GrantsRevoked) != 1 || res.GrantsRevoked[0] != req.ID {
		t.Fatalf("forced delete: %d %s", st, body)
	}
	var grants []any
	if admin.do("GET", "/api/access/grants", nil, &grants); len(grants) != 0 {
		t.Fatalf("grants left: %v", grants)
	}
	var v struct{ State, Comment string }
	if st, body := tina.do("GET", "/api/access/requests/"+req.ID, nil, &v); st != 200 || v.State != "revoked" || v.Comment != "the device group was deleted" {
		t.Fatalf("the grant after the delete: %d %s", st, body)
	}
	var ents []any
	if admin.do("GET", "/api/access/entitlements", nil, &ents); len(ents) != 0 {
		t.Fatalf("entitlements left: %v", ents)
	}
	if st, body := admin.do("DELETE", "/api/groups/"+g.ID, nil, nil); st != 404 {
		t.Fatalf("second delete: %d %s", st, body)
	}
	var recs []struct{ Details map[string]any }
	admin.do("GET", "/api/audit?limit=1000&action=group.deleted", nil, &recs)
	if len(recs) != 1 || recs[0].Details["force"] != true || len(recs[0].Details["entitlements_removed"].([]any)) != 1 {
		t.Errorf("group.deleted audit: %+v", recs)
	}
}
