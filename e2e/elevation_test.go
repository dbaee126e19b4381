package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"porthole/agent"
	"porthole/agent/elevation"
	"porthole/agent/elevation/elevationtest"
	"porthole/agent/request"
	"porthole/internal/clock/clocktest"
	"porthole/internal/sandbox"
)

// agentBinEnv hands a test re-run inside a throwaway mount namespace the
// agent binary already built.
const agentBinEnv = "PORTHOLE_E2E_AGENT_BIN"

// TestElevationCodes is the acceptance test of temporary admin codes: a
// code issued by the broker and typed by a test user at the agent grants
// sudo, what the user runs with sudo reaches the broker's API, the right is
// gone at expiry, and with the broker stopped a code still elevates and the
// records arrive once when it is back.
//
// It changes sudoers and creates a user, so it re-runs itself in a private
// mount namespace (unshare -m) over a copy of /etc: this machine's real
// sudoers and accounts are never touched.
func TestElevationCodes(t *testing.T) {
	if !inThrowawayNamespace(t) {
		return
	}
	clk := clocktest.NewTimerClock(time.Now())
	e, admin, ra, sock := elevationRig(t, clk)
	dev := ra.DeviceID()
	name, uid := elevationtest.User(t)

	if out, err := asUser(t, uid, "sudo", "-n", "true"); err == nil {
		t.Fatalf("user had sudo before any code: %s", out)
	}
	code := issueCode(t, admin, dev, name, 5)
	tampered := tamper(code)
	if out, err := elevateAs(t, uid, sock, tampered); err == nil || !strings.Contains(out, "Wrong code") {
		t.Errorf("tampered code: %v %s", err, out)
	}
	out, err := elevateAs(t, uid, sock, code)
	if err != nil || !strings.Contains(out, name+" is an administrator until") || !strings.Contains(out, "5m0s left") {
		t.Fatalf("elevate: %v %s", err, out)
	}
	if out, err := elevateAs(t, uid, sock, code); err == nil || !strings.Contains(out, "already used") {
		t.Errorf("code used twice: %v %s", err, out)
	}
	if out, err := agentAs(t, uid, "elevate", "--socket", sock, "--status"); err != nil || !strings.Contains(out, "left") {
		t.Errorf("status: %v %s", err, out)
	}
	runSudo(t, uid, name, "password=hunter2")
	s1 := waitProcess(t, admin, dev, "password=[REDACTED]")
	if s1.User != name || !s1.EndedAt.IsZero() {
		t.Errorf("session %+v", s1)
	}

	// Expiry: the agent's clock passes Until; the drop-in goes.
	clk.Advance(5 * time.Minute)
	waitFor(t, "sudo right gone at expiry", 10*time.Second, func() bool {
		_, err := asUser(t, uid, "sudo", "-n", "true")
		return err != nil
	})
	waitFor(t, "expiry reported to the broker", 10*time.Second, func() bool {
		s := elevationSession(t, admin, dev, s1.SessionID)
		return s != nil && s.EndReason == "expired"
	})

	// Offline: a code issued before the broker stops still elevates; the
	// records reach the broker when it is back, once.
	code2 := issueCode(t, admin, dev, name, 5)
	e.stop()
	waitFor(t, "agent notices the broker is gone", 10*time.Second, func() bool {
		select {
		case <-ra.Connected():
			return false
		default:
			return true
		}
	})
	if out, err := elevateAs(t, uid, sock, code2); err != nil {
		t.Fatalf("offline elevate: %v %s", err, out)
	}
	runSudo(t, uid, name, "offline-marker")
	waitFor(t, "elevated process exit queued in the outbox", 10*time.Second, func() bool {
		for _, ev := range ra.Events().Pending(ra.Events().Len()) {
			if ev.Kind == "elevation.process_exit" && bytes.Contains(ev.Data, []byte("offline-marker")) {
				return true
			}
		}
		return false
	})
	queued := ra.Events().Len()
	u, _ := url.Parse(e.URL)
	e2 := startBrokerAt(t, e.DataDir, u.Host, nil)
	admin = e2.login(t, "admin", e.Password)
	waitFor(t, "outbox drained after the broker came back", 90*time.Second, func() bool { return ra.Events().Len() == 0 })
	s2 := waitProcess(t, admin, dev, "offline-marker")
	if s2.SessionID == s1.SessionID || s2.User != name {
		t.Errorf("offline session %+v", s2)
	}

	// Nothing lost or duplicated: every agent event is in the audit log
	// once, and the code never is.
	var recs []struct {
		Actor, Action string
		Details       map[string]any
	}
	if st, body := admin.do("GET", "/api/audit?order=asc&limit=1000&target="+dev, nil, &recs); st != 200 {
		t.Fatalf("audit: %d %s", st, body)
	}
	seen := map[string]int{}
	kinds := map[string]int{}
	for _, r := range recs {
		for _, c := range []string{code, code2, strings.ReplaceAll(code, "-", ""), strings.ReplaceAll(code2, "-", "")} {
			if strings.Contains(fmt.Sprint(r.Details), c) {
				t.Errorf("audit record carries a code: %+v", r)
			}
		}
		if r.Actor == "device:"+dev {
			id, _ := r.Details["event_id"].(string)
			seen[id]++
			kinds[r.Action]++
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s audited %d times", id, n)
		}
	}
	if kinds["elevation.granted"] != 2 || kinds["elevation.denied"] != 2 || kinds["elevation.expired"] != 1 ||
		kinds["elevation.process_start"] == 0 || kinds["elevation.process_exit"] == 0 {
		t.Errorf("audited agent events by kind: %v", kinds)
	}
	if queued == 0 {
		t.Error("nothing was queued while the broker was down")
	}
	issued := 0
	for _, r := range recs {
		if r.Action == "elevation.code_issued" {
			issued++
		}
	}
	if issued != 2 {
		t.Errorf("%d codes audited as issued, want 2", issued)
	}
}

// elevationRig starts a broker and an enrolled agent with elevation on
// (its manager on clk, its socket in a directory every user can reach).
func elevationRig(t *testing.T, clk *clocktest.TimerClock) (*env, *client, *runningAgent, string) {
	t.Helper()
	return elevationRigWith(t, clk, request.Config{})
}

// elevationRigWith is elevationRig with the agent's end-user request
// settings (rc: the desktop dialogs that tell outcomes).
func elevationRigWith(t *testing.T, clk *clocktest.TimerClock, rc request.Config) (*env, *client, *runningAgent, string) {
	t.Helper()
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)
	sock := filepath.Join(publicDir(t), "elevate.sock")
	cfg := elevationAgentConfig(t, filepath.Join(t.TempDir(), "agent"), sock, clk, rc)
	if _, err := agent.Enroll(context.Background(), cfg, e.URL, admin.enrollToken(1, time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	ra := startAgent(t, cfg)
	waitFor(t, "agent online", 10*time.Second, func() bool { return admin.device(ra.DeviceID()).Online })
	return e, admin, ra, sock
}

// elevationAgentConfig is the rig's agent: elevation on, its socket at
// sock, on clk.
func elevationAgentConfig(t *testing.T, state, sock string, clk *clocktest.TimerClock, rc request.Config) agent.Config {
	return agent.Config{StateDir: state, Displays: oneDisplay, Logger: testLogger(t), Request: rc,
		Elevation: &agent.ElevationConfig{Socket: sock,
			Manager: elevation.Config{Clock: clk, Timer: clk, RecordInterval: 50 * time.Millisecond}}}
}

// TestElevationRequests: an end user's request (porthole-agent
// request-admin) reaches the broker, and its approval elevates the user
// without anyone typing a code; a member of a group in
// elevation.self_approve_groups is elevated at once, and that is audited.
// Like TestElevationCodes it runs in a throwaway mount namespace.
func TestElevationRequests(t *testing.T) {
	if !inThrowawayNamespace(t) {
		return
	}
	_, admin, ra, sock := elevationRig(t, clocktest.NewTimerClock(time.Now()))
	dev := ra.DeviceID()
	name, uid := elevationtest.User(t)

	out, err := agentAs(t, uid, "request-admin", "--socket", sock, "--reason", "install the printer driver")
	if err != nil || !strings.Contains(out, "sent to your helpdesk") {
		t.Fatalf("request-admin: %v %s", err, out)
	}
	req := waitElevationRequest(t, admin, dev, name)
	if req.Reason != "install the printer driver" || req.Status != "pending" || req.MaxMinutes != 60 {
		t.Errorf("request %+v", req)
	}
	if st, body := admin.do("POST", "/api/requests/"+req.ID+"/approve", map[string]any{"minutes": 10}, nil); st != 200 {
		t.Fatalf("approve: %d %s", st, body)
	}
	waitFor(t, "approved user has sudo", 10*time.Second, func() bool {
		_, err := asUser(t, uid, "sudo", "-n", "true")
		return err == nil
	})
	if st, _ := admin.do("POST", "/api/requests/"+req.ID+"/approve", map[string]any{"minutes": 10}, nil); st != 409 {
		t.Errorf("second approval: %d", st)
	}
	if log := auditActions(t, admin, req.ID); !strings.Contains(log, "request.created") || !strings.Contains(log, "request.approved") ||
		!strings.Contains(log, "minutes:10") {
		t.Errorf("audit of the request:\n%s", log)
	}

	// Self-approval by group, pushed to the connected agent.
	self, selfUID := elevationtest.User(t)
	if out, err := exec.Command("groupadd", "phel-selfapprove").CombinedOutput(); err != nil {
		t.Fatalf("groupadd: %v %s", err, out)
	}
	if out, err := exec.Command("usermod", "-aG", "phel-selfapprove", self).CombinedOutput(); err != nil {
		t.Fatalf("usermod: %v %s", err, out)
	}
	if out, err := agentAs(t, selfUID, "request-admin", "--socket", sock, "--reason", "before the policy"); err != nil || !strings.Contains(out, "sent to your helpdesk") {
		t.Errorf("request before the policy: %v %s", err, out)
	}
	if st, body := admin.do("PUT", "/api/settings/elevation.self_approve_groups", map[string]any{"scope": "device:" + dev, "value": "phel-selfapprove"}, nil); st != 200 {
		t.Fatalf("setting: %d %s", st, body)
	}
	waitFor(t, "policy saved by the agent", 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(ra.StateDir, agent.PolicyFile))
		return bytes.Contains(b, []byte("phel-selfapprove"))
	})
	out, err = agentAs(t, selfUID, "request-admin", "--socket", sock, "--reason", "fix the VPN")
	if err != nil || !strings.Contains(out, "Self-approved: "+self+" is an administrator") || !strings.Contains(out, "1h0m0s left") {
		t.Fatalf("self-approval: %v %s", err, out)
	}
	if out, err := asUser(t, selfUID, "sudo", "-n", "true"); err != nil {
		t.Errorf("self-approved user has no sudo: %v %s", err, out)
	}
	waitFor(t, "self-approved session listed with its reason", 10*time.Second, func() bool {
		var ss []struct {
			User         string
			SelfApproved bool `json:"self_approved"`
			Note         string
		}
		admin.do("GET", "/api/devices/"+dev+"/elevations", nil, &ss)
		for _, s := range ss {
			if s.User == self && s.SelfApproved && s.Note == "fix the VPN" {
				return true
			}
		}
		return false
	})
	waitFor(t, "self-approved grant audited", 10*time.Second, func() bool {
		log := auditActions(t, admin, dev)
		return strings.Contains(log, "elevation.granted map[") && strings.Contains(log, "note:fix the VPN") &&
			strings.Contains(log, "self_approved:true") && strings.Contains(log, "elevation.code_issued")
	})
}

// elevationRequestView is an elevation request in the requests queue.
type elevationRequestView struct {
	ID, Kind, User, Reason, Status string
	DeviceID                       string `json:"device_id"`
	MaxMinutes                     int    `json:"max_minutes"`
}

// waitElevationRequest waits until the queue lists a pending elevation
// request of userName on dev.
func waitElevationRequest(t *testing.T, c *client, dev, userName string) elevationRequestView {
	t.Helper()
	var req elevationRequestView
	waitFor(t, "elevation request in the queue", 10*time.Second, func() bool {
		var rs []elevationRequestView
		if st, body := c.do("GET", "/api/requests?status=pending", nil, &rs); st != 200 {
			t.Fatalf("requests: %d %s", st, body)
		}
		for _, r := range rs {
			if r.Kind == "elevation" && r.User == userName && r.DeviceID == dev {
				req = r
				return true
			}
		}
		return false
	})
	return req
}

// inThrowawayNamespace reports whether the test runs in its throwaway
// mount namespace (with /etc replaced by a copy). If not, it re-runs the
// test there (with the agent binary already built), reports its outcome,
// and returns false.
func inThrowawayNamespace(t *testing.T) bool {
	t.Helper()
	elevationtest.NeedRoot(t)
	return sandbox.Test(t, agentBinEnv+"="+agentBin)
}

// publicDir is a directory every user can reach (for the socket and the
// agent binary the test user runs).
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "porthole-elev-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// asUser runs a command as uid (no login: no loginuid, like a service).
func asUser(t *testing.T, uid, name string, args ...string) (string, error) {
	t.Helper()
	n, err := strconv.Atoi(uid)
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.LookupId(uid)
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.Command(name, args...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "USER=" + u.Username, "HOME=/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(n), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// agentAs runs the porthole-agent binary as uid, from a copy every user
// can execute (made once per test).
func agentAs(t *testing.T, uid string, args ...string) (string, error) {
	t.Helper()
	if agentAsBin == "" {
		b, err := os.ReadFile(agentBin)
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(publicDir(t), "porthole-agent")
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		agentAsBin = bin
		t.Cleanup(func() { agentAsBin = "" })
	}
	return asUser(t, uid, agentAsBin, args...)
}

// agentAsBin is the user-executable copy of agentBin.
var agentAsBin string

func elevateAs(t *testing.T, uid, sock, code string) (string, error) {
	t.Helper()
	return agentAs(t, uid, "elevate", "--socket", sock, "--code", code)
}

// runSudo runs `sudo sh -c 'sleep 1; :' sh MARK` as the user with the
// user's loginuid set, as a real login would (pam_loginuid).
func runSudo(t *testing.T, uid, name, mark string) {
	t.Helper()
	inner := fmt.Sprintf("echo %s > /proc/self/loginuid && exec runuser -u %s -- sudo -n /bin/sh -c 'sleep 1; :' sh %s", uid, name, mark)
	if out, err := exec.Command("/bin/sh", "-c", inner).CombinedOutput(); err != nil {
		t.Fatalf("sudo as %s: %v %s", name, err, out)
	}
}

func issueCode(t *testing.T, c *client, dev, userName string, minutes int) string {
	t.Helper()
	var res struct{ Code string }
	if st, body := c.do("POST", "/api/devices/"+dev+"/elevation-codes", map[string]any{"user": userName, "minutes": minutes}, &res); st != 201 {
		t.Fatalf("issue code: %d %s", st, body)
	}
	return res.Code
}

// tamper changes the code's last character.
func tamper(code string) string {
	b := []byte(code)
	if b[len(b)-1] == '7' {
		b[len(b)-1] = '8'
	} else {
		b[len(b)-1] = '7'
	}
	return string(b)
}

type elevationView struct {
	SessionID string    `json:"session_id"`
	User      string    `json:"user"`
	EndedAt   time.Time `json:"ended_at"`
	EndReason string    `json:"end_reason"`
	Processes []struct {
		EventID  string    `json:"event_id"`
		Exe      string    `json:"exe"`
		Args     []string  `json:"args"`
		ExitedAt time.Time `json:"exited_at"`
	} `json:"processes"`
}

func elevations(t *testing.T, c *client, dev string) []elevationView {
	t.Helper()
	var out []elevationView
	if st, body := c.do("GET", "/api/devices/"+dev+"/elevations", nil, &out); st != 200 {
		t.Fatalf("elevations: %d %s", st, body)
	}
	return out
}

func elevationSession(t *testing.T, c *client, dev, id string) *elevationView {
	t.Helper()
	for _, s := range elevations(t, c, dev) {
		if s.SessionID == id {
			return &s
		}
	}
	return nil
}

// waitProcess waits until the API lists the exited shell that ran with mark
// in its arguments, and returns its session. No program may be listed twice.
func waitProcess(t *testing.T, c *client, dev, mark string) elevationView {
	t.Helper()
	var found elevationView
	waitFor(t, "elevated process "+mark+" in the API", 15*time.Second, func() bool {
		ok := false
		rows := map[string]int{}
		for _, s := range elevations(t, c, dev) {
			for _, p := range s.Processes {
				args := strings.Join(p.Args, " ")
				if !strings.Contains(args, mark) {
					continue
				}
				if rows[p.Exe+" "+args]++; rows[p.Exe+" "+args] > 1 {
					t.Fatalf("%s %s listed twice", p.Exe, args)
				}
				if strings.HasSuffix(p.Exe, "sh") && !p.ExitedAt.IsZero() {
					found, ok = s, true
				}
			}
		}
		return ok
	})
	for _, p := range found.Processes {
		if strings.Contains(strings.Join(p.Args, " "), "hunter2") {
			t.Errorf("secret not redacted: %q", p.Args)
		}
	}
	return found
}
