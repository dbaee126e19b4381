package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/elevation/elevationtest"
	"porthole/agent/request"
	"porthole/internal/browsertest"
	"porthole/internal/clock/clocktest"
	"porthole/internal/xvfb"
)

// TestElevationRequestInPortalQueue: an end user's `porthole-agent
// request-admin` appears in the portal's Requests queue without a reload,
// with user, reason and a duration bounded by elevation.max_minutes;
// Approve there elevates the user (sudo works); a second request is denied
// from the page with a comment. The end user is told each outcome in a
// desktop dialog. Both are audited. Like TestElevationCodes
// it runs in a throwaway mount namespace.
func TestElevationRequestInPortalQueue(t *testing.T) {
	if !inThrowawayNamespace(t) {
		return
	}
	x := xvfb.StartT(t, xvfb.Options{Width: 800, Height: 600})
	z, err := consent.NewZenity(consent.ZenityConfig{Display: x.Display})
	if err != nil {
		t.Fatal(err)
	}
	e, admin, ra, sock := elevationRigWith(t, clocktest.NewTimerClock(time.Now()), request.Config{Notify: z})
	dev := ra.DeviceID()
	name, uid := elevationtest.User(t)
	ctx := browsertest.New(t)
	portalLogin(t, ctx, e)
	browsertest.Step(ctx, t, 10*time.Second,
		chromedp.Navigate(e.URL+"/#/requests"),
		chromedp.WaitVisible(css(`#requests-empty`)),
		chromedp.Evaluate[chromedp.Void](`window.__noReload = true`))

	if out, err := agentAs(t, uid, "request-admin", "--socket", sock, "--reason", "install the printer driver"); err != nil ||
		!strings.Contains(out, "sent to your helpdesk") {
		t.Fatalf("request-admin: %v %s", err, out)
	}
	id := waitRequestRow(t, ctx, "install the printer driver")
	if evalString(t, ctx, `window.__noReload ? 'same page' : 'reloaded'`) != "same page" {
		t.Fatal("the queue reloaded the page")
	}
	row := `tr[data-request="` + id + `"]`
	if got := evalString(t, ctx, `document.querySelector('`+row+`').textContent`); !strings.Contains(got, "elevation") || !strings.Contains(got, name) {
		t.Fatalf("queue row %q lacks the kind or the user %s", got, name)
	}
	if max := evalString(t, ctx, `document.querySelector('input[data-minutes="`+id+`"]')?.max || ''`); max != "60" {
		t.Fatalf("duration input max %q, want elevation.max_minutes 60", max)
	}
	if out, err := asUser(t, uid, "sudo", "-n", "true"); err == nil {
		t.Fatalf("user had sudo before the approval: %s", out)
	}
	if got := evalString(t, ctx, `(() => { const m = document.querySelector('input[data-minutes="`+id+`"]');
		const b = document.querySelector('button[data-approve="`+id+`"]'); if (!m || !b || b.disabled) return 'missing';
		m.value = '15'; b.click(); return 'ok'; })()`); got != "ok" {
		t.Fatalf("approve: %s", got)
	}
	waitFor(t, "approved user has sudo", 15*time.Second, func() bool {
		_, err := asUser(t, uid, "sudo", "-n", "true")
		return err == nil
	})
	consenttest.WaitWindow(t, x.Display, consent.OutcomeTitle) // "approved by admin: … an administrator until …"
	consenttest.Dismiss(t, x.Display, consent.OutcomeTitle)
	waitFor(t, "approved row leaves the pending queue", 10*time.Second, func() bool {
		return evalString(t, ctx, `document.querySelector('`+row+`') ? 'there' : 'gone'`) == "gone"
	})
	if log := auditActions(t, admin, id); !strings.Contains(log, "request.created") || !strings.Contains(log, "reason:install the printer driver") ||
		!strings.Contains(log, "request.approved map[") || !strings.Contains(log, "minutes:15") || !strings.Contains(log, "user:"+name) {
		t.Errorf("audit of the approved request:\n%s", log)
	}
	if log := auditActions(t, admin, dev); !strings.Contains(log, "elevation.code_issued") || !strings.Contains(log, "elevation.granted") {
		t.Errorf("audit of the device lacks the issued code or the grant:\n%s", log)
	}

	// A second user's request is denied from the page with a comment.
	other, otherUID := elevationtest.User(t)
	if out, err := agentAs(t, otherUID, "request-admin", "--socket", sock, "--reason", "play a game"); err != nil {
		t.Fatalf("request-admin: %v %s", err, out)
	}
	id = waitRequestRow(t, ctx, "play a game")
	browsertest.LiveStep(ctx, t, 10*time.Second,
		chromedp.SendKeys(css(`input[data-comment="`+id+`"]`), "Not for games"),
		chromedp.Click(css(`button[data-deny="`+id+`"]`)))
	consenttest.WaitWindow(t, x.Display, consent.OutcomeTitle) // "denied by admin: Not for games."
	consenttest.Dismiss(t, x.Display, consent.OutcomeTitle)
	waitFor(t, "denied row leaves the pending queue", 10*time.Second, func() bool {
		return evalString(t, ctx, `document.querySelector('tr[data-request="`+id+`"]') ? 'there' : 'gone'`) == "gone"
	})
	if log := auditActions(t, admin, id); !strings.Contains(log, "request.denied map[comment:Not for games") {
		t.Errorf("audit of the denied request:\n%s", log)
	}
	if out, err := asUser(t, otherUID, "sudo", "-n", "true"); err == nil {
		t.Errorf("denied user %s has sudo: %s", other, out)
	}
}
