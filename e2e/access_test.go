package e2e

import (
	"mime"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/broker/notify/smtptest"
	"porthole/internal/browsertest"
)

// TestAccessEmergencyPortal: a technician requests entitlements from the
// portal. The Emergency toggle shows only for the entitlement that has an
// emergency path; an emergency request carries ⚡ in the lists and a badge
// on its page; a normal request is escalated from its page, which switches
// it to the emergency policy (one on-call approval instead of two).
func TestAccessEmergencyPortal(t *testing.T) {
	mail := smtptest.Start(t)
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	emailTo(t, admin, mail, "oncall@example.com")
	pw := map[string]string{}
	for _, u := range [][2]string{{"tess", "technician"}, {"oscar", "technician"}} {
		var res struct{ Password string }
		if st, body := admin.do("POST", "/api/users", map[string]string{"username": u[0], "role": u[1]}, &res); st != 201 {
			t.Fatalf("create user: %d %s", st, body)
		}
		pw[u[0]] = res.Password
	}
	var g struct{ ID string }
	if st, body := admin.do("POST", "/api/groups", map[string]string{"name": "servers"}, &g); st != 201 {
		t.Fatalf("group: %d %s", st, body)
	}
	normal := map[string]any{"approvers": []string{"role:approver"}, "approvals": 2, "max_duration_seconds": 14400, "justification_required": true}
	for _, ent := range []map[string]any{
		{"name": "remote_support", "group_id": g.ID, "request": normal},
		{"name": "break_glass", "group_id": g.ID, "request": normal,
			"emergency": map[string]any{"approvers": []string{"user:oscar"}, "approvals": 1, "max_duration_seconds": 3600}},
	} {
		if st, body := admin.do("PUT", "/api/access/entitlements", ent, nil); st != 200 {
			t.Fatalf("entitlement: %d %s", st, body)
		}
	}
	var ents []struct{ ID, Name string }
	admin.do("GET", "/api/access/entitlements", nil, &ents)
	entID := map[string]string{}
	for _, x := range ents {
		entID[x.Name] = x.ID
	}

	ctx := browsertest.New(t)
	browsertest.Step(ctx, t, 30*time.Second,
		loginSteps(e, "tess", pw["tess"]),
		chromedp.WaitVisible(css(`#nav-access`)),
		chromedp.Click(css(`#nav-access`)),
		chromedp.WaitVisible(css(`#access-entitlement`)))
	toggleHidden := func(name string) string {
		return evalString(t, ctx, `(() => { const s = document.getElementById('access-entitlement'); s.value = `+jsString(entID[name])+`;
			s.dispatchEvent(new Event('change')); return String(document.getElementById('access-emergency-row').hidden); })()`)
	}
	if got := toggleHidden("remote_support"); got != "true" {
		t.Fatalf("emergency toggle for remote_support: hidden=%s", got)
	}
	if got := toggleHidden("break_glass"); got != "false" {
		t.Fatalf("emergency toggle for break_glass: hidden=%s", got)
	}
	// An emergency request from the form: its page has the badge.
	if got := evalString(t, ctx, `(() => { document.getElementById('access-minutes').value = '30';
		document.getElementById('access-reason').value = 'INC-9 database down';
		document.getElementById('access-emergency').checked = true;
		document.getElementById('access-submit').click(); return 'ok'; })()`); got != "ok" {
		t.Fatal(got)
	}
	var emergencyID string
	waitFor(t, "the emergency request's page with its badge", 10*time.Second, func() bool {
		emergencyID = evalString(t, ctx, `(() => { const m = location.hash.match(/^#\/access\/(.+)$/);
			return m && document.getElementById('access-emergency-badge') ? m[1] : ''; })()`)
		return emergencyID != ""
	})
	// ⚡ in the Access list and in the requests queue.
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Navigate(e.URL+"/#/access"))
	waitFor(t, "⚡ in the access list", 10*time.Second, func() bool {
		return evalString(t, ctx, `document.querySelector('tr[data-access="`+emergencyID+`"] [data-emergency]')?.textContent || ''`) == "⚡"
	})
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Navigate(e.URL+"/#/requests"), chromedp.WaitVisible(css(`#requests-status`)))
	evalString(t, ctx, `(() => { const s = document.getElementById('requests-status'); s.value = ''; s.dispatchEvent(new Event('change')); return ''; })()`)
	waitFor(t, "⚡ in the requests queue", 10*time.Second, func() bool {
		return evalString(t, ctx, `document.querySelector('tr[data-request="`+emergencyID+`"] [data-emergency]')?.textContent || ''`) == "⚡"
	})

	// A normal request (through the API as tess) escalated from its page.
	tess := e.login(t, "tess", pw["tess"])
	var normalReq struct {
		ID        string
		Emergency bool
	}
	if st, body := tess.do("POST", "/api/access/requests", map[string]any{"entitlement": "break_glass", "duration_seconds": 1800,
		"justification": "patch night"}, &normalReq); st != 201 || normalReq.Emergency {
		t.Fatalf("normal request: %d %s", st, body)
	}
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Navigate(e.URL+"/#/access/"+normalReq.ID), chromedp.WaitVisible(css(`#access-state`)))
	if got := evalString(t, ctx, `(document.getElementById('access-emergency-badge') ? 'badge' : 'none') + ' ' + document.getElementById('access-approvals').textContent`); got != "none 0/2" {
		t.Fatalf("before escalation: %s", got)
	}
	// Clicked in one evaluation: the page re-renders on live events, so a
	// node chromedp found may be gone by the time it clicks.
	waitFor(t, "escalate clicked", 10*time.Second, func() bool {
		return evalString(t, ctx, `(() => { const b = document.querySelector('#access-actions button[data-step="escalate"]');
			if (!b) return ''; b.click(); return 'ok'; })()`) == "ok"
	})
	waitFor(t, "badge after escalation", 10*time.Second, func() bool {
		return evalString(t, ctx, `(document.getElementById('access-emergency-badge') ? 'badge' : 'none') + ' ' + (document.getElementById('access-approvals')?.textContent || '')`) == "badge 0/1"
	})
	// The on-call approvers are emailed: two new requests, then the escalation.
	var subjects []string
	for _, m := range mail.Wait(t, 3, 20*time.Second) {
		s, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		subjects = append(subjects, s)
	}
	if want := "[Porthole] ⚡ Escalated to emergency: tess wants break_glass on servers"; !slices.Contains(subjects, want) {
		t.Fatalf("emails %q: want %q", subjects, want)
	}
	// The on-call approver now decides it alone.
	oscar := e.login(t, "oscar", pw["oscar"])
	var after struct{ State string }
	if st, body := oscar.do("POST", "/api/access/requests/"+normalReq.ID+"/approve", nil, &after); st != 200 || after.State != "approved" {
		t.Fatalf("on-call approval: %d %s", st, body)
	}
	waitFor(t, "the page shows the grant live", 10*time.Second, func() bool {
		return evalString(t, ctx, `document.getElementById('access-state')?.textContent || ''`) == "approved (needs review) by oscar"
	})
	var recs []struct{ Action, Target string }
	admin.do("GET", "/api/audit?action=access.escalated", nil, &recs)
	if len(recs) != 1 || recs[0].Target != normalReq.ID {
		t.Fatalf("escalation audit: %+v", recs)
	}
}
