// Package browsertest starts Debian's headless Chromium for tests and
// benchmarks, with the flags WebRTC on loopback needs.
package browsertest

import (
	"context"
	"os"
	"os/exec"
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

// Step runs actions in order within d, so a hung page fails fast.
func Step(ctx context.Context, t testing.TB, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Value runs one action that reads a value, within d.
func Value[T any](ctx context.Context, t testing.TB, d time.Duration, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}
