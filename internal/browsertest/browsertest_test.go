package browsertest

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestReplaced(t *testing.T) {
	for _, tc := range []struct {
		err  string
		want bool
	}{
		{"Could not find node with given id (-32000)", true},
		{"No node with given id found (-32000)", true},
		{"Node is detached from document (-32000)", true},
		{"context deadline exceeded", false},
		{"Cannot find context with specified id", false},
	} {
		if got := replaced(errors.New(tc.err)); got != tc.want {
			t.Errorf("replaced(%q) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestLiveStep: in real Chromium, clicks on a button the page replaces
// every 20 ms go through (a plain Step fails on most of them with "Could
// not find node"), and none is repeated. A click can still be lost when the
// button is replaced between press and release, so the count is at most
// one per step.
func TestLiveStep(t *testing.T) {
	ctx := New(t)
	page := `<body><script>
	  window.clicks = 0;
	  const put = () => { const b = document.createElement('button'); b.id = 'b'; b.textContent = 'go';
	    b.onclick = () => { window.clicks++; }; const old = document.getElementById('b');
	    old ? old.replaceWith(b) : document.body.append(b); };
	  put(); setInterval(put, 20);
	</script></body>`
	Step(ctx, t, 20*time.Second, chromedp.Navigate("data:text/html,"+url.PathEscape(page)), chromedp.WaitVisible(chromedp.CSS(`#b`)))
	const steps = 10
	for range steps {
		LiveStep(ctx, t, 20*time.Second, chromedp.Click(chromedp.CSS(`#b`)))
	}
	if n := Value(ctx, t, 5*time.Second, chromedp.Evaluate[int](`window.clicks`)); n < 1 || n > steps {
		t.Fatalf("%d clicks from %d steps", n, steps)
	}
}
