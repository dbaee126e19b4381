package e2e

import (
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/agent"
	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/request"
	"porthole/internal/browsertest"
)

// supportCLI is a running `porthole-agent request-support`, the end user's side.
type supportCLI struct {
	out  *syncBuffer
	done chan error
}

func requestSupport(t *testing.T, ep *endpoint, args ...string) *supportCLI {
	t.Helper()
	cmd := exec.Command(agentBin, append([]string{"request-support", "--state-dir", ep.stateDir}, args...)...)
	c := &supportCLI{out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return c
}

// wait returns the command's exit code and output.
func (c *supportCLI) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case err := <-c.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), c.out.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, c.out.String()
	case <-time.After(30 * time.Second):
		t.Fatalf("request-support did not finish; output:\n%s", c.out.String())
		return 0, ""
	}
}

var contact = []string{"--name", "Ann Example", "--email", "ann@example.com", "--phone", "+1 555 0100"}

// portalLogin logs the browser in as the first admin.
func portalLogin(t *testing.T, ctx context.Context, e *env) {
	t.Helper()
	browsertest.Step(ctx, t, 30*time.Second,
		loginSteps(e, "admin", e.Password),
		chromedp.WaitVisible(css(`#nav-requests`)),
	)
}

func evalString(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	return browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[string](js))
}

// waitRequestRow waits for a pending request whose reason is reason and returns its id.
func waitRequestRow(t *testing.T, ctx context.Context, reason string) string {
	t.Helper()
	var id string
	waitFor(t, "request "+reason+" in the queue", 15*time.Second, func() bool {
		id = evalString(t, ctx, `(() => { for (const tr of document.querySelectorAll('tr[data-request]')) {
			if (tr.querySelector('td.reason')?.textContent === `+jsString(reason)+`) return tr.dataset.request; } return ''; })()`)
		return id != ""
	})
	return id
}

// setAndClick sets the value of the element with id and clicks button, in
// one evaluation (the pages re-render, so cached nodes go stale).
func setAndClick(t *testing.T, ctx context.Context, id, value, button string) {
	t.Helper()
	if got := evalString(t, ctx, `(() => { const e = document.getElementById(`+jsString(id)+`); const b = document.querySelector(`+jsString(button)+`);
		if (!e || !b) return 'missing'; e.value = `+jsString(value)+`; b.click(); return 'ok'; })()`); got != "ok" {
		t.Fatalf("set %s and click %s: %s", id, button, got)
	}
}

func jsString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + "'"
}

// TestSupportRequestApproveThenDeny: the end user asks for support with
// contact details and a reason; the request appears in the portal's queue
// without a reload; Approve → the end user's consent dialog → Yes → frames
// in the approver's viewer. A second request, filled in on the agent's
// desktop form, is denied with a comment and the end user sees the denial
// on the desktop. Both are audited.
func TestSupportRequestApproveThenDeny(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	ep := startEndpoint(t, e, admin)
	ctx := browsertest.New(t)
	portalLogin(t, ctx, e)
	browsertest.Step(ctx, t, 10*time.Second,
		chromedp.Navigate(e.URL+"/#/requests"),
		chromedp.WaitVisible(css(`#requests-empty`)),
		chromedp.Evaluate[chromedp.Void](`window.__noReload = true`))

	cli := requestSupport(t, ep, append(contact, "--reason", "VPN does not connect")...)
	id := waitRequestRow(t, ctx, "VPN does not connect")
	if evalString(t, ctx, `window.__noReload ? 'same page' : 'reloaded'`) != "same page" {
		t.Fatal("the queue reloaded the page")
	}
	row := `tr[data-request="` + id + `"]`
	if got := evalString(t, ctx, `document.querySelector('`+row+`').textContent`); !strings.Contains(got, "ann@example.com") ||
		!strings.Contains(got, "Ann Example") || !strings.Contains(got, "+1 555 0100") || !strings.Contains(got, "support") {
		t.Fatalf("queue row lacks the contact details: %q", got)
	}
	// Every portal page is told: a notification and the pending count.
	waitFor(t, "notification", 10*time.Second, func() bool {
		return strings.Contains(evalString(t, ctx, `document.getElementById('notifications')?.textContent || ''`), "New support request from")
	})
	if n := evalString(t, ctx, `document.getElementById('nav-requests').textContent`); n != "Requests (1)" {
		t.Fatalf("nav link %q, want the pending count", n)
	}

	browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`button[data-approve="`+id+`"]`)), chromedp.WaitVisible(css(`#session-state`)))
	consenttest.Press(t, ep.x.Display, consent.Allowed)
	waitViewerState(t, ctx, "live", 20*time.Second)
	waitPatterns(t, ctx)
	if code, out := cli.wait(t); code != 0 || !strings.Contains(out, "sent to IT support") || !strings.Contains(out, "approved by admin") {
		t.Fatalf("request-support exit %d, output:\n%s", code, out)
	}
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`#session-off`)))
	waitViewerState(t, ctx, "ended", 10*time.Second)
	consenttest.WaitGone(t, ep.x.Display, consent.IndicatorTitle)
	log := auditActions(t, admin, id)
	for _, want := range []string{"request.created", "reason:VPN does not connect", "request.approved"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit of the approved request lacks %q:\n%s", want, log)
		}
	}

	// The second request comes through the agent's desktop form (what the
	// desktop icon runs: no details on the command line); it is denied with
	// a comment the end user reads.
	cli = requestSupport(t, ep)
	consenttest.FillForm(t, ep.x.Display, []string{"Ann Example", "ann@example.com", "+1 555 0100", "Printer jams"}, true)
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Navigate(e.URL+"/#/requests"))
	defer func() {
		if t.Failed() {
			t.Logf("request-support output:\n%s\npage: %s", cli.out.String(), evalString(t, ctx, `location.hash + ' ' + document.getElementById('main').innerText`))
		}
	}()
	id = waitRequestRow(t, ctx, "Printer jams")
	browsertest.LiveStep(ctx, t, 10*time.Second, chromedp.SendKeys(css(`input[data-comment="`+id+`"]`), "Please call the help desk"))
	// A live update rebuilds the table (here: reloading the list); the
	// comment being typed survives it.
	evalString(t, ctx, `(() => { window.__oldRow = document.querySelector('tr[data-request="`+id+`"]');
		document.getElementById('requests-status').dispatchEvent(new Event('change')); return ''; })()`)
	waitFor(t, "the table rebuilt", 10*time.Second, func() bool {
		return evalString(t, ctx, `(() => { const r = document.querySelector('tr[data-request="`+id+`"]');
			return r && r !== window.__oldRow ? 'new' : 'old'; })()`) == "new"
	})
	if got := evalString(t, ctx, `document.querySelector('input[data-comment="`+id+`"]').value`); got != "Please call the help desk" {
		t.Fatalf("the comment after a live update: %q", got)
	}
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`button[data-deny="`+id+`"]`)))
	consenttest.WaitWindow(t, ep.x.Display, consent.OutcomeTitle)
	code, out := cli.wait(t)
	if code == 0 || !strings.Contains(out, "denied by admin: Please call the help desk.") {
		t.Fatalf("request-support exit %d, output:\n%s", code, out)
	}
	consenttest.Dismiss(t, ep.x.Display, consent.OutcomeTitle)
	waitFor(t, "denied row", 10*time.Second, func() bool {
		return evalString(t, ctx, `document.querySelector('tr[data-request="`+id+`"]') ? 'there' : 'gone'`) == "gone"
	})
	if log := auditActions(t, admin, id); !strings.Contains(log, "request.denied map[comment:Please call the help desk") {
		t.Errorf("audit of the denied request:\n%s", log)
	}
}

// TestGroupDisallowsRemoteSupport: an admin creates a group on the
// Settings page, turns Allow Remote Support off for it (with a validation
// error on the way), moves the device into it on the device page; then
// the broker refuses both a portal-initiated session and an end-user
// request, each with a clear message, and the change is audited old → new.
func TestGroupDisallowsRemoteSupport(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	ep := startEndpoint(t, e, admin)
	ctx := browsertest.New(t)
	portalLogin(t, ctx, e)
	browsertest.Step(ctx, t, 10*time.Second,
		chromedp.Navigate(e.URL+"/#/settings"),
		chromedp.WaitVisible(css(`#group-name`)),
		chromedp.SendKeys(css(`#group-name`), "Kiosks"),
		chromedp.Click(css(`#group-create`)))
	var groups []struct{ ID, Name string }
	waitFor(t, "group created", 10*time.Second, func() bool {
		admin.do("GET", "/api/groups", nil, &groups)
		return len(groups) == 1
	})
	scope := "group:" + groups[0].ID
	defer func() {
		if t.Failed() {
			var recs []map[string]any
			admin.do("GET", "/api/audit?limit=1000&action=settings.changed", nil, &recs)
			t.Logf("settings audit: %v; group error %q", recs, evalString(t, ctx, `document.getElementById("group-error").textContent`))
			t.Logf("scope %q want %q; source %q", evalString(t, ctx, `Array.from(document.getElementById("settings-scope").options).map(o => o.value + "=" + o.selected).join(",")`), scope,
				evalString(t, ctx, `document.querySelector('td[data-source="remote_support.allow"]')?.textContent || ''`))
		}
	}()
	waitFor(t, "group scope selected", 10*time.Second, func() bool {
		return evalString(t, ctx, `document.getElementById('settings-table')?.dataset.scope || ''`) == scope &&
			evalString(t, ctx, `document.querySelector('td[data-source="remote_support.allow"]')?.textContent || ''`) == "inherited (default)"
	})
	// A value out of range is refused with the allowed range.
	setAndClick(t, ctx, "setting-remote_support.consent_timeout", "3", `button[data-save="remote_support.consent_timeout"]`)
	if msg := evalString(t, ctx, `document.querySelector('span[data-error="remote_support.consent_timeout"]').textContent`); msg != "want a whole number 5..600" {
		t.Fatalf("validation message %q", msg)
	}
	setAndClick(t, ctx, "setting-remote_support.allow", "false", `button[data-save="remote_support.allow"]`)
	waitFor(t, "group value saved", 10*time.Second, func() bool {
		return evalString(t, ctx, `document.querySelector('td[data-source="remote_support.allow"]')?.textContent || ''`) == "set here"
	})

	// The device page moves it into the group and shows where the value comes from.
	browsertest.Step(ctx, t, 10*time.Second,
		chromedp.Navigate(e.URL+"/#/devices/"+ep.deviceID),
		chromedp.WaitVisible(css(`#device-group`)), settled())
	setAndClick(t, ctx, "device-group", groups[0].ID, `#device-group-save`)
	waitFor(t, "effective value from the group", 10*time.Second, func() bool {
		return evalString(t, ctx, `(() => { const r = document.querySelector('tr[data-effective="remote_support.allow"]');
			return r ? r.querySelector('.value').textContent + ' from ' + r.querySelector('.source').textContent : ''; })()`) == "false from group Kiosks"
	})
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`#rs-screenshare`)))
	waitFor(t, "refusal in the portal", 10*time.Second, func() bool {
		return strings.Contains(evalString(t, ctx, `document.getElementById('rs-error').textContent`), "remote support is not allowed on this device: Allow Remote Support is off (group setting)")
	})
	if st, body := admin.do("POST", "/api/sessions", map[string]any{"device_id": ep.deviceID}, nil); st != 403 || !strings.Contains(body, "Allow Remote Support is off") {
		t.Fatalf("session start: %d %s", st, body)
	}

	// The end user's request is refused by the broker, in the terminal and on the desktop.
	code, out := requestSupport(t, ep, append(contact, "--reason", "help")...).wait(t)
	if code == 0 || !strings.Contains(out, "Remote support is not allowed on this device by your IT administrator.") {
		t.Fatalf("request-support exit %d, output:\n%s", code, out)
	}
	consenttest.Dismiss(t, ep.x.Display, consent.OutcomeTitle)
	var pending []any
	admin.do("GET", "/api/requests?status=pending", nil, &pending)
	if len(pending) != 0 {
		t.Fatalf("refused request queued: %v", pending)
	}
	var recs []struct {
		Action  string
		Target  string
		Details map[string]any
	}
	admin.do("GET", "/api/audit?limit=1000&action=request.refused", nil, &recs)
	if len(recs) != 1 {
		t.Errorf("request.refused audit records: %+v", recs)
	}
	admin.do("GET", "/api/audit?limit=1000&action=settings.changed&target=remote_support.allow", nil, &recs)
	if len(recs) != 1 || recs[0].Details["scope"] != scope || recs[0].Details["old"] != "" || recs[0].Details["new"] != "false" {
		t.Errorf("settings.changed audit: %+v", recs)
	}
	admin.do("GET", "/api/audit?limit=1000&action=device.group_changed", nil, &recs)
	if len(recs) != 1 || recs[0].Details["new"] != groups[0].ID {
		t.Errorf("device.group_changed audit: %+v", recs)
	}
}

// TestGroupSettingReachesAgent: a group setting reaches a connected agent
// within a second (and the desktop launcher follows it), and an agent that
// was offline during a change gets it when it reconnects.
func TestGroupSettingReachesAgent(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	desktop := filepath.Join(t.TempDir(), "applications")
	cfg := agent.Config{StateDir: filepath.Join(t.TempDir(), "agent"), Displays: oneDisplay, Logger: testLogger(t),
		Request: request.Config{DesktopDir: desktop, Command: []string{"/usr/bin/porthole-agent", "request-support"}}}
	if _, err := agent.Enroll(context.Background(), cfg, e.URL, admin.enrollToken(1, time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	ra := startAgent(t, cfg)
	id := ra.DeviceID()
	setting := func(key string) string { return ra.Settings()[key] }
	waitFor(t, "settings at connect", 10*time.Second, func() bool { return setting("remote_support.allow") == "true" })

	var g struct{ ID string }
	if st, body := admin.do("POST", "/api/groups", map[string]string{"name": "Lab"}, &g); st != 201 {
		t.Fatalf("create group: %d %s", st, body)
	}
	if st, body := admin.do("PUT", "/api/devices/"+id+"/group", map[string]string{"group_id": g.ID}, nil); st != 200 {
		t.Fatalf("assign group: %d %s", st, body)
	}
	put := func(key, value string) {
		t.Helper()
		if st, body := admin.do("PUT", "/api/settings/"+key, map[string]string{"scope": "group:" + g.ID, "value": value}, nil); st != 200 {
			t.Fatalf("put %s: %d %s", key, st, body)
		}
	}
	start := time.Now()
	put("remote_support.desktop_icon", "true")
	waitFor(t, "group setting at the agent", time.Second, func() bool { return setting("remote_support.desktop_icon") == "true" })
	t.Logf("group setting reached the connected agent in %v", time.Since(start).Round(time.Millisecond))
	waitFor(t, "desktop launcher", 2*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(desktop, request.LauncherName))
		return err == nil && strings.Contains(string(b), `Exec="/usr/bin/porthole-agent" "request-support"`)
	})

	if err := ra.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "agent offline", 10*time.Second, func() bool { return !admin.device(id).Online })
	put("remote_support.consent_timeout", "30")
	put("remote_support.desktop_icon", "false")
	ra = startAgent(t, cfg)
	waitFor(t, "settings at reconnect", 10*time.Second, func() bool {
		return setting("remote_support.consent_timeout") == "30" && setting("remote_support.desktop_icon") == "false"
	})
	waitFor(t, "desktop launcher removed", 2*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(desktop, request.LauncherName))
		return errors.Is(err, os.ErrNotExist)
	})
	var vals []struct{ Key, Value, Source string }
	admin.do("GET", "/api/settings?device="+url.QueryEscape(id), nil, &vals)
	for _, v := range vals {
		if v.Key == "remote_support.consent_timeout" && (v.Value != "30" || v.Source != "group:"+g.ID) {
			t.Fatalf("effective consent timeout %+v", v)
		}
	}
}

// TestApproveNeedsStepUp: approving a support request starts a session, so
// the MFA step-up rule for sessions applies to it too, and the request
// stays pending.
func TestApproveNeedsStepUp(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	sock := filepath.Join(t.TempDir(), "r.sock")
	cfg := agent.Config{StateDir: filepath.Join(t.TempDir(), "agent"), Displays: oneDisplay, Logger: testLogger(t),
		Request: request.Config{Socket: sock}}
	if _, err := agent.Enroll(context.Background(), cfg, e.URL, admin.enrollToken(1, time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	ra := startAgent(t, cfg)
	waitFor(t, "agent online", 10*time.Second, func() bool { return admin.device(ra.DeviceID()).Online })
	if st, body := admin.do("PUT", "/api/settings/mfa.require_support", map[string]string{"scope": "global", "value": "true"}, nil); st != 200 {
		t.Fatalf("require MFA: %d %s", st, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	queued := make(chan struct{})
	go func() {
		_, _ = request.Ask(ctx, sock, request.Local{Name: "Ann", Email: "ann@example.com", Reason: "help"}, func(r request.Reply) {
			if r.Status == "queued" {
				close(queued)
			}
		})
	}()
	select {
	case <-queued:
	case <-time.After(10 * time.Second):
		t.Fatal("request not queued")
	}
	var list []struct{ ID string }
	admin.do("GET", "/api/requests?status=pending", nil, &list)
	if len(list) != 1 {
		t.Fatalf("pending: %+v", list)
	}
	st, body := admin.do("POST", "/api/requests/"+list[0].ID+"/approve", map[string]string{}, nil)
	if st != 403 || !strings.Contains(body, `"step_up":"enroll"`) {
		t.Fatalf("approve without MFA: %d %s", st, body)
	}
	admin.do("GET", "/api/requests?status=pending", nil, &list)
	if len(list) != 1 {
		t.Fatalf("request no longer pending after a refused approval: %+v", list)
	}
}

// loginSteps fill in and submit the portal's login form as user.
func loginSteps(e *env, user, pw string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(e.URL+"/#/login"),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), user),
		chromedp.SendKeys(css(`#password`), pw),
		chromedp.Click(css(`#login-submit`)),
	)
}
