// Package browsertest starts Debian's headless Chromium for tests and
// benchmarks, with the flags WebRTC on loopback needs.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ExecPath finds the Chromium binary (apt package chromium).
func ExecPath() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return exec.LookPath("chromium")
}

// Options are the flags every run uses. Loopback ICE candidates and no
// mDNS obfuscation let WebRTC connect over 127.0.0.1; no background
// networking keeps Chromium off the (closed) network.
func Options(execPath, userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(userDataDir),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1400, 900),
	}
}

// New returns a browser tab context that lives until the test ends.
// A missing Chromium fails the test: make test installs it.
func New(t testing.TB) context.Context {
	t.Helper()
	path, err := ExecPath()
	if err != nil {
		t.Fatalf("chromium not installed (run make deps): %v", err)
	}
	dir, err := os.MkdirTemp("", "porthole-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), Options(path, dir)...)
	ctx, cancelC := chromedp.NewContext(actx)
	// Start the browser now so a launch failure is reported here.
	if err := chromedp.Do(ctx); err != nil {
		cancelC()
		cancelA()
		os.RemoveAll(dir)
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelC()
		cancelA()
		os.RemoveAll(dir)
	})
	return ctx
}

// Slack multiplies every browser limit a test names. The limits are there
// to stop a hung page, not to time it, and a loaded CI machine runs
// Chromium (and the race-enabled broker it talks to) several times slower
// than a quiet one; a passing step takes no longer for it.
const Slack = 2

// Step runs actions in order within d (times Slack), so a hung page fails
// fast.
func Step(ctx context.Context, t testing.TB, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d*Slack)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// LiveStep is Step for a page that re-renders on live updates: an action
// whose element the page replaced between its lookup and its use (CDP's
// "Could not find node with given id") did nothing, and is run again. Each
// action is retried on its own, so one that went through is never
// repeated; all of them share d (times Slack).
func LiveStep(ctx context.Context, t testing.TB, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d*Slack)
	defer cancel()
	for _, a := range actions {
		for {
			err := chromedp.Do(sctx, a)
			if err == nil {
				break
			}
			if !replaced(err) || sctx.Err() != nil {
				t.Fatalf("browser: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// replaced reports whether err says the element acted on left the page.
func replaced(err error) bool {
	for _, s := range []string{"Could not find node with given id", "No node with given id found", "Node is detached from document"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// Value runs one action that reads a value, within d (times Slack).
func Value[T any](ctx context.Context, t testing.TB, d time.Duration, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d*Slack)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}
