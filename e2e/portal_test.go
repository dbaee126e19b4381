package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/internal/browsertest"
)

type css = chromedp.CSS

// TestPortalInventoryLive logs in through the real page, sees the enrolled
// agent come online and then go offline when it stops, without a reload.
func TestPortalInventoryLive(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	token := admin.enrollToken(1, time.Hour)
	ctx := browsertest.New(t)

	// Wrong password first: a clear, generic error and no session.
	browsertest.Step(ctx, t, 20*time.Second,
		loginSteps(e, "admin", "wrong"),
		chromedp.WaitVisible(css(`#login-error:not(:empty)`)),
	)
	if msg := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`#login-error`))); msg != "invalid username or password" {
		t.Fatalf("login error shown: %q", msg)
	}
	browsertest.Step(ctx, t, 20*time.Second,
		chromedp.SendKeys(css(`#password`), e.Password),
		chromedp.Click(css(`#login-submit`)),
		chromedp.WaitVisible(css(`.empty`)), // no devices yet
	)

	a := enrollAgent(t, e, token, oneDisplay)
	row := `tr[data-device="` + a.DeviceID() + `"]`
	browsertest.Step(ctx, t, 20*time.Second, chromedp.WaitVisible(css(row+`.is-online`)))
	if host := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(row+` td a`))); host == "" {
		t.Fatal("no hostname in the inventory row")
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	browsertest.Step(ctx, t, 20*time.Second, chromedp.WaitVisible(css(row+`.is-offline`)))

	// The details page shows the inventory.
	browsertest.Step(ctx, t, 20*time.Second,
		chromedp.Click(css(row+` td a`)),
		chromedp.WaitVisible(css(`dl.facts`)),
	)
	details := browsertest.Value(ctx, t, 5*time.Second, chromedp.Text(css(`dl.facts`)))
	if !contains(details, "1280×720") || !contains(details, a.DeviceID()) {
		t.Fatalf("details page lacks inventory: %q", details)
	}
}

// settled waits until the page stops growing: its height unchanged over
// 300 ms (at most 10 s). Pages fill panels asynchronously, and a click
// computed before a panel above the target grows lands on something else.
func settled() chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`new Promise((resolve) => {
	  let last = -1, same = 0, n = 0;
	  const t = setInterval(() => {
	    const h = document.documentElement.scrollHeight;
	    same = h === last ? same + 1 : 0; last = h;
	    if (same >= 3 || ++n > 100) { clearInterval(t); resolve(); }
	  }, 100);
	})`, chromedp.EvalAwaitPromise)
}
