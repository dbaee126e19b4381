package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
)

// restart stops the endpoint's agent (SIGTERM) if it runs and starts the
// agent binary again on the same state directory and display, appending to
// the same log, and waits until the broker sees it online.
func (ep *endpoint) restart(t *testing.T, admin *client) {
	t.Helper()
	ep.stop(t, admin)
	logf, err := os.OpenFile(ep.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ep.cmd = exec.Command(agentBin, "run", "--state-dir", ep.stateDir, "--log-level", "debug", "--elevation=false")
	ep.cmd.Env = ep.x.Env()
	ep.cmd.Stdout, ep.cmd.Stderr = logf, logf
	if err := ep.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ep.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan error) { exited <- cmd.Wait(); logf.Close() }(ep.cmd, ep.exited)
	waitFor(t, "agent online again", 15*time.Second, func() bool { return admin.device(ep.deviceID).Online })
}

// stop ends the agent with SIGTERM and waits until the broker sees it
// offline.
func (ep *endpoint) stop(t *testing.T, admin *client) {
	t.Helper()
	ep.kill(syscall.SIGTERM)
	waitFor(t, "agent offline", 15*time.Second, func() bool { return !admin.device(ep.deviceID).Online })
}

// dialogTexts returns the --text of the outcome dialogs (zenity) the
// running agent has open: its children, so other tests' dialogs never count.
func (ep *endpoint) dialogTexts(t *testing.T) []string {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, p := range procs {
		stat, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so cut after ")".
		_, rest, _ := bytes.Cut(stat, []byte(") "))
		f := strings.Fields(string(rest))
		if len(f) < 2 || f[1] != strconv.Itoa(ep.cmd.Process.Pid) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		isOutcome := false
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "--title" && args[i+1] == consent.OutcomeTitle {
				isOutcome = true
			}
		}
		for i := 0; isOutcome && i+1 < len(args); i++ {
			if args[i] == "--text" {
				out = append(out, args[i+1])
			}
		}
	}
	return out
}

// TestOutcomeReachesOfflineEndpoint: the end user files a support request;
// the agent stops; an admin denies the request with a comment while the
// endpoint is offline; when the agent starts again on the same state
// directory the denial, with the comment and when it was asked, appears in
// the outcome dialog on the endpoint's display, and the audit shows
// request.denied then request.outcome_delivered. Starting the agent once
// more does not show it again.
func TestOutcomeReachesOfflineEndpoint(t *testing.T) {
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	ep := startEndpoint(t, e, admin)

	cli := requestSupport(t, ep, append(contact, "--reason", "Laptop is slow")...)
	var pending []struct {
		ID        string
		Reason    string
		CreatedAt time.Time `json:"created_at"`
	}
	waitFor(t, "request queued", 15*time.Second, func() bool {
		if st, body := admin.do("GET", "/api/requests?status=pending", nil, &pending); st != 200 {
			t.Fatalf("requests: %d %s", st, body)
		}
		return len(pending) == 1 && pending[0].Reason == "Laptop is slow"
	})
	id := pending[0].ID

	ep.stop(t, admin)
	if code, out := cli.wait(t); code == 0 {
		t.Fatalf("request-support succeeded without its agent: %s", out)
	}
	if st, body := admin.do("POST", "/api/requests/"+id+"/deny", map[string]string{"comment": "Reboot it first"}, nil); st != 200 && st != 204 {
		t.Fatalf("deny: %d %s", st, body)
	}
	if consenttest.Visible(t, ep.x.Display, consent.OutcomeTitle) {
		t.Fatal("an outcome dialog is up before the agent is back")
	}

	ep.restart(t, admin)
	consenttest.WaitWindow(t, ep.x.Display, consent.OutcomeTitle)
	want := "Your support request of " + pending[0].CreatedAt.Local().Format("15:04") + " was denied by admin: Reboot it first."
	var texts []string
	waitFor(t, "outcome dialog text", 10*time.Second, func() bool {
		texts = ep.dialogTexts(t)
		return len(texts) > 0
	})
	if len(texts) != 1 || texts[0] != want {
		t.Fatalf("outcome dialogs %q, want [%q]", texts, want)
	}
	waitFor(t, "outcome acknowledged", 10*time.Second, func() bool {
		return strings.Contains(auditActions(t, admin, id), "request.outcome_delivered")
	})
	log := auditActions(t, admin, id)
	den, del := strings.Index(log, "request.denied"), strings.Index(log, "request.outcome_delivered")
	if den < 0 || del < den || !strings.Contains(log[del:], "status:denied") || strings.Count(log, "request.outcome_delivered") != 1 {
		t.Fatalf("audit of the request:\n%s", log)
	}
	consenttest.Dismiss(t, ep.x.Display, consent.OutcomeTitle)
	consenttest.WaitGone(t, ep.x.Display, consent.OutcomeTitle)

	// Once told, never again: not after another restart either (the broker
	// has the acknowledgement; the agent remembers what it told).
	ep.restart(t, admin)
	time.Sleep(2 * time.Second) // time for a resend and its dialog, were there one
	if consenttest.Visible(t, ep.x.Display, consent.OutcomeTitle) || len(ep.dialogTexts(t)) != 0 {
		t.Fatalf("the outcome was shown again: %q", ep.dialogTexts(t))
	}
	if n := strings.Count(auditActions(t, admin, id), "request.outcome_delivered"); n != 1 {
		t.Fatalf("request.outcome_delivered %d times", n)
	}
}
