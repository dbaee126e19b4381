package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/internal/browsertest"
	"porthole/internal/clock/clocktest"
)

// waitJS waits until the JavaScript expression js is true in the page.
func waitJS(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	waitFor(t, what, 20*time.Second, func() bool {
		return browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[bool](`!!(`+js+`)`))
	})
}

// TestUsersPageButtons drives every button of the portal's Users page in
// Chromium: add a technician bound to a group (password shown once),
// disable (the user's portal session and websocket end and the page says
// so), enable, change the role, reset the password (shown once), reset
// MFA, delete.
func TestUsersPageButtons(t *testing.T) {
	clk := clocktest.New(time.Now())
	e := startBroker(t, clk)
	admin := e.login(t, "admin", e.Password)
	var g struct{ ID string }
	if st, body := admin.do("POST", "/api/groups", map[string]string{"name": "lab"}, &g); st != 201 {
		t.Fatalf("group: %d %s", st, body)
	}
	ctx := browsertest.New(t)
	browsertest.Step(ctx, t, 30*time.Second,
		loginSteps(e, "admin", e.Password),
		chromedp.WaitVisible(css(`#nav-users`)),
		chromedp.Click(css(`#nav-users`)),
		chromedp.WaitVisible(css(`#user-groups option`)),
		chromedp.SendKeys(css(`#user-name`), "tom"),
		chromedp.SetValue(css(`#user-role`), "technician"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#user-groups option[value="`+g.ID+`"]').selected = true; window.confirm = () => true; undefined`),
		chromedp.Click(css(`#user-add`)),
		chromedp.WaitVisible(css(`#user-password`)),
	)
	pw := evalString(t, ctx, `document.getElementById('user-password').value`)
	waitJS(t, ctx, "tom's row", `[...document.querySelectorAll('tr[data-user] td.username')].some((td) => td.textContent === 'tom')`)
	id := evalString(t, ctx, `(() => { for (const tr of document.querySelectorAll('tr[data-user]')) if (tr.querySelector('td.username').textContent === 'tom') return tr.dataset.user; return ''; })()`)
	if pw == "" || id == "" {
		t.Fatalf("created user: id %q password %q", id, pw)
	}
	if on := evalString(t, ctx, `document.querySelector('tr[data-user="`+id+`"] td.on').textContent`); on != "lab" {
		t.Fatalf("tom is on %q", on)
	}
	tom := e.login(t, "tom", pw)
	events := openEvents(t, e, tom, "")
	row := `tr[data-user="` + id + `"]`

	// Disable: the status changes and the page says what ended.
	browsertest.LiveStep(ctx, t, 20*time.Second, chromedp.Click(css(`button[data-user-disable="`+id+`"]`)))
	waitJS(t, ctx, "tom shown disabled", `document.querySelector('`+row+` td.status[data-status="disabled"]')`)
	notice := evalString(t, ctx, `document.getElementById('users-notice').textContent`)
	if !strings.Contains(notice, "tom disabled.") || !strings.Contains(notice, "1 portal session(s) ended") || !strings.Contains(notice, "1 websocket(s) closed") {
		t.Fatalf("notice %q", notice)
	}
	waitClosed(t, "tom's events websocket", events)
	if st, _ := tom.do("GET", "/api/me", nil, nil); st != 401 {
		t.Fatalf("tom's session after Disable: %d", st)
	}

	// Enable.
	browsertest.LiveStep(ctx, t, 20*time.Second, chromedp.Click(css(`button[data-user-enable="`+id+`"]`)))
	waitJS(t, ctx, "tom shown enabled", `document.querySelector('`+row+` td.status[data-status="enabled"]')`)
	e.login(t, "tom", pw)

	// Change the role: to auditor (which drops the group binding).
	if got := evalString(t, ctx, `(() => { const s = document.querySelector('select[data-role-select="`+id+`"]'); s.value = 'auditor';
		s.dispatchEvent(new Event('change')); document.querySelector('button[data-user-role="`+id+`"]').click(); return 'ok'; })()`); got != "ok" {
		t.Fatal(got)
	}
	waitJS(t, ctx, "tom shown as auditor", `document.querySelector('select[data-role-select="`+id+`"]')?.value === 'auditor' &&
		document.querySelector('`+row+` td.on').textContent === 'every device'`)
	var us []struct {
		ID, Role string
		Groups   []string
	}
	admin.do("GET", "/api/users", nil, &us)
	if i := slices.IndexFunc(us, func(u struct {
		ID, Role string
		Groups   []string
	}) bool {
		return u.ID == id
	}); i < 0 || us[i].Role != "auditor" || us[i].Groups != nil {
		t.Fatalf("users after the role change: %+v", us)
	}

	// Reset the password: a new one, shown once.
	browsertest.LiveStep(ctx, t, 20*time.Second, chromedp.Click(css(`button[data-user-reset-password="`+id+`"]`)))
	waitJS(t, ctx, "a new password", `document.getElementById('user-password')?.value && document.getElementById('user-password').value !== '`+pw+`'`)
	pw = evalString(t, ctx, `document.getElementById('user-password').value`)
	tom = e.login(t, "tom", pw)

	// Reset MFA (tom enrolls first; the page shows the button once enrolled).
	enrollAPI(t, tom, clk)
	browsertest.Step(ctx, t, 20*time.Second,
		chromedp.Navigate(e.URL+"/#/devices"), chromedp.WaitVisible(css(`#main h1`)),
		chromedp.Navigate(e.URL+"/#/users"),
		chromedp.WaitVisible(css(`button[data-reset-mfa="`+id+`"]`)),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; undefined`),
		chromedp.Click(css(`button[data-reset-mfa="`+id+`"]`)),
	)
	waitJS(t, ctx, "MFA reset", `document.getElementById('users-notice').textContent.startsWith('Two-factor authentication reset for tom.') &&
		document.querySelector('td.mfa[data-mfa="`+id+`"]')?.textContent === 'off'`)
	var ms struct{ Enrolled bool }
	if admin.do("GET", "/api/users/"+id+"/mfa", nil, &ms); ms.Enrolled {
		t.Fatal("tom still enrolled after Reset MFA")
	}

	// Delete.
	browsertest.LiveStep(ctx, t, 20*time.Second, chromedp.Click(css(`button[data-user-delete="`+id+`"]`)))
	waitJS(t, ctx, "tom's row gone", `!document.querySelector('`+row+`') && document.getElementById('users-notice').textContent.startsWith('tom deleted.')`)
	if recs := auditRecords(t, admin, "user.deleted"); len(recs) != 1 || recs[0].Target != id {
		t.Fatalf("user.deleted: %+v", recs)
	}
}

// TestAccountAPITokens: a user creates an API token with one scope on the
// Account page; it is shown once, works within its scope only (403 naming
// the missing scope), shows its last use, and Revoke ends it at once.
func TestAccountAPITokens(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	dev, _ := quietDevice(t, e, admin, "lab")
	_, pw := newUser(t, admin, "tom", "technician")
	ctx := browsertest.New(t)
	browsertest.Step(ctx, t, 30*time.Second,
		loginSteps(e, "tom", pw),
		chromedp.WaitVisible(css(`#nav-account`)),
		chromedp.Click(css(`#nav-account`)),
		chromedp.WaitVisible(css(`#api-tokens input[name=scope][value="devices:read"]`)),
		chromedp.Click(css(`#api-tokens input[name=scope][value="devices:read"]`)),
		chromedp.SetValue(css(`#api-token-hours`), "2"),
		chromedp.SendKeys(css(`#api-token-note`), "inventory export"),
		chromedp.Click(css(`#api-token-create`)),
		chromedp.WaitVisible(css(`#api-token-value`)),
	)
	token := evalString(t, ctx, `document.getElementById('api-token-value').value`)
	if !strings.HasPrefix(token, "pht_") {
		t.Fatalf("token shown: %q", token)
	}
	if st, body := bearer(t, e, token, "GET", "/api/devices", nil, nil); st != 200 {
		t.Fatalf("token: %d %s", st, body)
	}
	if st, body := bearer(t, e, token, "POST", "/api/sessions", map[string]any{"device_id": dev}, nil); st != 403 || !strings.Contains(body, "sessions:write") {
		t.Fatalf("session with a devices:read token: %d %s", st, body)
	}
	var list []apiTokenView
	if st, body := e.login(t, "tom", pw).do("GET", "/api/api-tokens", nil, &list); st != 200 || len(list) != 1 {
		t.Fatalf("tokens: %d %s", st, body)
	}
	id := list[0].ID
	row := `tr[data-token="` + id + `"]`
	browsertest.Step(ctx, t, 20*time.Second,
		chromedp.Navigate(e.URL+"/#/devices"), chromedp.WaitVisible(css(`#main h1`)),
		chromedp.Navigate(e.URL+"/#/account"),
		chromedp.WaitVisible(css(row)),
	)
	if used := evalString(t, ctx, `document.querySelector('`+row+` td.last-used').textContent`); !strings.Contains(used, "from 127.0.0.1") {
		t.Fatalf("last use shown: %q", used)
	}
	if sc := evalString(t, ctx, `document.querySelector('`+row+` td.scopes').textContent`); sc != "devices:read" {
		t.Fatalf("scopes shown: %q", sc)
	}
	if strings.Contains(evalString(t, ctx, `document.body.textContent`), token) {
		t.Fatal("the token value is shown again")
	}
	browsertest.Step(ctx, t, 20*time.Second, chromedp.Click(css(`button[data-revoke-token="`+id+`"]`)))
	waitJS(t, ctx, "the token shown revoked", `document.querySelector('`+row+` td.token-status[data-status="revoked"]')`)
	if st, _ := bearer(t, e, token, "GET", "/api/devices", nil, nil); st != 401 {
		t.Fatalf("revoked token: %d", st)
	}
}
