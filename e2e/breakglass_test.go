package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/agent"
	"porthole/agent/accounts"
	"porthole/agent/accounts/accountstest"
	"porthole/internal/browsertest"
	"porthole/internal/clock"
	"porthole/internal/clock/clocktest"
)

// bgGrant is a break-glass account as the API shows it.
type bgGrant struct {
	ID, Username, Status, Requester, Password string
	ExpiresAt                                 time.Time `json:"expires_at"`
}

// bgAgentConfig is an agent whose break-glass accounts live in a throwaway
// root (never this machine's accounts) on the timer clock clk.
func bgAgentConfig(t *testing.T, state string, root accountstest.Root, clk *clocktest.TimerClock) agent.Config {
	t.Helper()
	return agent.Config{StateDir: state, Displays: oneDisplay, Logger: testLogger(t),
		Accounts: accounts.Config{Root: root.Dir, Clock: clk, Timer: clk}}
}

// enrollBGAgent enrolls and starts such an agent.
func enrollBGAgent(t *testing.T, e *env, admin *client, root accountstest.Root, clk *clocktest.TimerClock) (*runningAgent, agent.Config) {
	t.Helper()
	cfg := bgAgentConfig(t, filepath.Join(t.TempDir(), "agent"), root, clk)
	if _, err := agent.Enroll(context.Background(), cfg, e.URL, admin.enrollToken(1, time.Hour), ""); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	a := startAgent(t, cfg)
	waitFor(t, "agent online", 20*time.Second, func() bool { return admin.device(a.DeviceID()).Online })
	return a, cfg
}

// startBGDevice starts a broker on clk (nil: the real clock) and a
// break-glass agent (accounts in a throwaway root) on a timer clock; it
// returns the device's id.
func startBGDevice(t *testing.T, clk clock.Clock) (*env, *client, accountstest.Root, string) {
	t.Helper()
	root := accountstest.NewRoot(t)
	e := startBroker(t, clk)
	admin := e.login(t, "admin", e.Password)
	a, _ := enrollBGAgent(t, e, admin, root, clocktest.NewTimerClock(time.Now()))
	return e, admin, root, a.DeviceID()
}

func bgGrants(t *testing.T, c *client, deviceID string) []bgGrant {
	t.Helper()
	var gs []bgGrant
	if st, body := c.do("GET", "/api/devices/"+deviceID+"/breakglass", nil, &gs); st != 200 {
		t.Fatalf("list break glass: %d %s", st, body)
	}
	return gs
}

func waitGrantStatus(t *testing.T, c *client, deviceID, grantID, want string) {
	t.Helper()
	waitFor(t, "grant status "+want, 30*time.Second, func() bool {
		for _, g := range bgGrants(t, c, deviceID) {
			if g.ID == grantID {
				return g.Status == want
			}
		}
		return false
	})
}

// bgBinaryAgent is the real agent binary with its accounts in a throwaway
// root and its break-glass clock moved by the offset in clockFile.
type bgBinaryAgent struct {
	state, clockFile, logPath string
	root                      accountstest.Root
}

// start runs the agent; the returned function SIGKILLs it and waits.
func (b *bgBinaryAgent) start(t *testing.T) (kill func()) {
	t.Helper()
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(agentBin, "run", "--state-dir", b.state, "--prompt", "terminal", "--log-level", "debug",
		"--accounts-root", b.root.Dir, "--test-clock-offset-file", b.clockFile)
	cmd.Env = append(os.Environ(), "PORTHOLE_TEST_HOOKS=1", "DISPLAY=")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	kill = func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
	t.Cleanup(func() {
		kill()
		showLog(t, "agent", b.logPath)
	})
	return kill
}

// TestBreakGlassAgentCrashPastExpiry: an account is created through the
// API on the real agent binary; the agent is killed (SIGKILL) and the
// broker goes down; the agent's clock moves past the expiry; the agent
// starts without a broker and removes the account at once; when the broker
// is back, the removal reaches the audit log and the grant shows expired.
func TestBreakGlassAgentCrashPastExpiry(t *testing.T) {
	dir := t.TempDir()
	e := startBrokerIn(t, dir, nil)
	admin := e.login(t, "admin", e.Password)
	tmp := t.TempDir()
	b := &bgBinaryAgent{state: filepath.Join(tmp, "agent"), clockFile: filepath.Join(tmp, "clock-offset"),
		logPath: filepath.Join(tmp, "agent.log"), root: accountstest.NewRoot(t)}
	out, err := exec.Command(agentBin, "enroll", "--broker", e.URL, "--token", admin.enrollToken(1, time.Hour), "--state-dir", b.state).CombinedOutput()
	if err != nil {
		t.Fatalf("agent enroll: %v\n%s", err, out)
	}
	var dev string
	if _, err := fmt.Sscanf(strings.TrimPrefix(string(out), "Enrolled as device "), "%s", &dev); err != nil {
		t.Fatalf("enroll output: %q", out)
	}
	dev = strings.TrimSuffix(dev, ".")
	kill := b.start(t)
	waitFor(t, "agent online", 20*time.Second, func() bool { return admin.device(dev).Online })

	// The settings bound the lifetime: the default maximum is 60 minutes.
	if st, body := admin.do("POST", "/api/devices/"+dev+"/breakglass", map[string]any{"duration_seconds": 2 * 3600}, nil); st != 400 ||
		!strings.Contains(body, "breakglass.max_minutes") {
		t.Fatalf("2 h break glass: %d %s, want 400 naming the setting", st, body)
	}
	var g bgGrant
	if st, body := admin.do("POST", "/api/devices/"+dev+"/breakglass", map[string]any{"duration_seconds": 600}, &g); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	if g.Status != "active" || g.Password == "" || !strings.HasPrefix(g.Username, accounts.DefaultPrefix) {
		t.Fatalf("created %+v", g)
	}
	root := b.root
	if !root.UserExists(t, g.Username) || !root.CheckPassword(t, g.Username, g.Password) {
		t.Fatal("the account does not exist with its password on the agent")
	}
	if gs := bgGrants(t, admin, dev); len(gs) != 1 || gs[0].Password != "" || gs[0].Username != g.Username {
		t.Fatalf("list %+v: want the account without its password", gs)
	}

	// Kill the agent and stop the broker; the agent's clock passes the expiry.
	kill()
	listen := strings.TrimPrefix(e.URL, "http://")
	e.stop()
	if err := os.WriteFile(b.clockFile, []byte("11m"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !root.UserExists(t, g.Username) {
		t.Fatal("account removed while no agent ran")
	}
	// The agent starts with no broker to talk to: the account goes at once.
	b.start(t)
	waitFor(t, "the account removed at agent start", 20*time.Second, func() bool { return !root.UserExists(t, g.Username) })

	// The broker comes back (same address and data): the removal arrives.
	e2 := startBrokerAt(t, dir, listen, nil)
	admin = e2.login(t, "admin", e.Password)
	waitGrantStatus(t, admin, dev, g.ID, "expired")
	waitFor(t, "the removal in the audit log", 30*time.Second, func() bool {
		return strings.Contains(auditActions(t, admin, dev), "breakglass.deleted")
	})
	log := auditActions(t, admin, dev)
	assertOrder(t, log, "breakglass.requested", "breakglass.created", "breakglass.expired", "breakglass.logged_off", "breakglass.deleted")
	if strings.Contains(log, g.Password) {
		t.Fatal("the password is in the audit log")
	}
}

// assertOrder checks that log holds the actions in this order.
func assertOrder(t *testing.T, log string, actions ...string) {
	t.Helper()
	rest := log
	for _, a := range actions {
		i := strings.Index(rest, a+" ")
		if i < 0 {
			t.Fatalf("audit log lacks %s after the steps before it:\n%s", a, log)
		}
		rest = rest[i+len(a):]
	}
}

// TestBreakGlassPortal: generate an account in the portal, see its
// username and password once, reload (the password is gone, the account
// listed), revoke it: it is removed on the agent, and the audit log shows
// each step.
func TestBreakGlassPortal(t *testing.T) {
	e, admin, root, dev := startBGDevice(t, nil)

	ctx := browsertest.New(t)
	browsertest.Step(ctx, t, 20*time.Second,
		loginSteps(e, "admin", e.Password),
		chromedp.WaitVisible(css(`tr[data-device="`+dev+`"]`)),
		chromedp.Navigate(e.URL+"/#/devices/"+dev),
		chromedp.WaitVisible(css(`#bg-generate`)), settled(),
	)
	js := func(expr string) string {
		return browsertest.Value(ctx, t, 5*time.Second, chromedp.Evaluate[string](expr))
	}
	// Over the maximum: a clear error, nothing created.
	browsertest.Step(ctx, t, 10*time.Second,
		chromedp.SetValue(css(`#bg-minutes`), "120"),
		chromedp.Click(css(`#bg-generate`)),
		chromedp.WaitVisible(css(`#bg-error:not(:empty)`)),
	)
	if msg := js(`document.getElementById('bg-error').textContent`); !strings.Contains(msg, "maximum of 60 minutes") {
		t.Fatalf("error shown: %q", msg)
	}
	browsertest.Step(ctx, t, 30*time.Second,
		chromedp.SetValue(css(`#bg-minutes`), "30"),
		chromedp.SetValue(css(`#bg-use-within`), "5"),
		chromedp.Click(css(`#bg-generate`)),
		chromedp.WaitVisible(css(`#bg-password`)),
	)
	if txt := js(`document.getElementById('bg-result').textContent`); !strings.Contains(txt, "removed unused at") {
		t.Fatalf("result %q does not show the use-within deadline", txt)
	}
	user := js(`document.getElementById('bg-username').value`)
	pw := js(`document.getElementById('bg-password').value`)
	if ro := js(`String(document.getElementById('bg-password').readOnly)`); ro != "true" || user == "" || len(pw) != accounts.PasswordLen {
		t.Fatalf("credentials shown: user %q, password of %d characters, read-only %s", user, len(pw), ro)
	}
	if !root.UserExists(t, user) || !root.CheckPassword(t, user, pw) {
		t.Fatal("the password shown does not log in to the account on the agent")
	}
	if gs := root.Groups(t, user); !strings.Contains(strings.Join(gs, " "), "sudo") {
		t.Fatalf("groups %v, want sudo", gs)
	}
	// Copy button: the clipboard or, where the page may not use it, the
	// field selected for Ctrl+C.
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Click(css(`#bg-password-copy`)))
	waitFor(t, "the copy button to act", 10*time.Second, func() bool {
		return js(`document.getElementById('bg-password-copy').textContent`) != "Copy"
	})

	// Reload: the account is listed, its password is nowhere.
	row := `tr[data-grant] td.bg-user`
	browsertest.Step(ctx, t, 20*time.Second,
		chromedp.Reload(),
		chromedp.WaitVisible(css(row)),
	)
	if js(`document.querySelector('`+row+`').textContent`) != user {
		t.Fatal("the account is not listed after a reload")
	}
	if html := js(`document.documentElement.outerHTML`); strings.Contains(html, pw) || strings.Contains(html, `id="bg-password"`) {
		t.Fatal("the password is still shown after a reload")
	}
	if st, body := admin.do("GET", "/api/devices/"+dev+"/breakglass", nil, nil); st != 200 || strings.Contains(body, pw) {
		t.Fatalf("list: %d; password in it: %v", st, strings.Contains(body, pw))
	}

	// A process of the account runs; Revoke now kills it and deletes the account.
	_, done := root.StartAs(t, user)
	browsertest.Step(ctx, t, 30*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; undefined`),
		chromedp.Click(css(`button.bg-revoke`)),
		chromedp.WaitVisible(css(`tr[data-grant] .badge.bg-removed`)),
	)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the account's process survived Revoke")
	}
	if root.UserExists(t, user) {
		t.Fatal("the account exists after Revoke")
	}
	waitFor(t, "the agent's removal events", 30*time.Second, func() bool {
		return strings.Contains(auditActions(t, admin, dev), "breakglass.deleted")
	})
	log := auditActions(t, admin, dev)
	assertOrder(t, log, "breakglass.requested", "breakglass.created", "breakglass.revoke_requested", "breakglass.revoked",
		"breakglass.logged_off", "breakglass.deleted")
	if strings.Contains(log, pw) {
		t.Fatal("the password is in the audit log")
	}
}
