package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/internal/browsertest"
)

// TestTerminateFromSessionDetails: an auditor opens the details of a live
// session from the audit log and presses Terminate; the viewer and the
// endpoint end within a second or two, with "terminated by audrey" logged.
func TestTerminateFromSessionDetails(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	var u struct{ Password string }
	if st, body := admin.do("POST", "/api/users", map[string]string{"username": "audrey", "role": "auditor"}, &u); st != 201 {
		t.Fatalf("create auditor: %d %s", st, body)
	}
	ep := startEndpoint(t, e, admin)
	ctx := browsertest.New(t)
	openViewer(t, ctx, e, ep.deviceID)
	consenttest.Press(t, ep.x.Display, consent.Allowed)
	waitViewerState(t, ctx, "live", 20*time.Second)
	consenttest.WaitWindow(t, ep.x.Display, consent.IndicatorTitle)
	s := latestSession(t, admin, ep.deviceID)

	actx := browsertest.New(t)
	browsertest.Step(actx, t, 30*time.Second,
		loginSteps(e, "audrey", u.Password),
		chromedp.WaitVisible(css(`#topbar`)),
		chromedp.Navigate(e.URL+"/#/audit/sessions/"+s.ID),
		chromedp.WaitVisible(css(`#session-terminate`)),
	)
	start := time.Now()
	browsertest.Step(actx, t, 10*time.Second, chromedp.Click(css(`#session-terminate`)))
	waitViewerState(t, ctx, "ended", 5*time.Second)
	consenttest.WaitGone(t, ep.x.Display, consent.IndicatorTitle)
	t.Logf("terminate → viewer ended and indicator gone in %v", time.Since(start))
	if r := viewerReason(t, ctx); !strings.Contains(r, "terminated by audrey") {
		t.Fatalf("viewer reason %q", r)
	}
	waitFor(t, "details show the end reason", 10*time.Second, func() bool {
		return browsertest.Value(actx, t, 5*time.Second, chromedp.Evaluate[string](`(document.getElementById('detail-end-reason') || {}).textContent || ''`)) == "terminated by audrey"
	})
	if log := auditActions(t, admin, s.ID); !strings.Contains(log, "reason:terminated by audrey") {
		t.Fatalf("audit:\n%s", log)
	}
}
