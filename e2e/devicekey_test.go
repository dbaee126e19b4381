package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porthole/agent/elevation/elevationtest"
	"porthole/agent/identity"
	"porthole/agent/request"
	"porthole/internal/clock/clocktest"
)

// TestDeviceKeyRotation is the acceptance test of device key rotation, with
// a real agent verifying codes and granting sudo: a code issued before a
// rotation stops working once the agent has stored the new key, a new code
// works; a rotation asked while the agent is offline waits (codes keep
// working with the old key meanwhile) and completes when the agent is back,
// after which a code of the old key is refused. The key is never in the
// broker's database file in the clear; technicians may not rotate; every
// step is audited with its actor. Like TestElevationCodes it runs in a
// throwaway mount namespace.
func TestDeviceKeyRotation(t *testing.T) {
	if !inThrowawayNamespace(t) {
		return
	}
	clk := clocktest.NewTimerClock(time.Now())
	e, admin, ra, sock := elevationRig(t, clk)
	dev := ra.DeviceID()
	name, uid := elevationtest.User(t)
	rotate := func(wait int) (int, string) {
		t.Helper()
		var rot struct {
			ID    string `json:"rotation_id"`
			State string
		}
		st, body := admin.do("POST", "/api/devices/"+dev+"/rotate-key", map[string]int{"wait_seconds": wait}, &rot)
		if st >= 300 {
			t.Fatalf("rotate: %d %s", st, body)
		}
		return st, rot.State
	}
	// agentKey is the agent's saved key once it holds no previous one (the
	// broker's confirmation reaches it just after the broker switched).
	agentKey := func() []byte {
		t.Helper()
		var id identity.Identity
		waitFor(t, "the agent's key rotation confirmed", 10*time.Second, func() bool {
			var err error
			id, err = identity.Load(ra.StateDir)
			if err != nil {
				t.Fatal(err)
			}
			return id.KeyRotation == "" && id.PreviousSecret == nil
		})
		return id.DeviceSecret
	}
	enrolled := agentKey()

	_, tpw := newUser(t, admin, "tess", "technician")
	if st, body := e.login(t, "tess", tpw).do("POST", "/api/devices/"+dev+"/rotate-key", nil, nil); st != 403 {
		t.Fatalf("technician rotated a key: %d %s", st, body)
	}

	// Online: the rotation completes within the wait; the earlier code is dead.
	before := issueCode(t, admin, dev, name, 5)
	if st, state := rotate(10); st != 200 || state != "done" {
		t.Fatalf("online rotation: %d %s", st, state)
	}
	k1 := agentKey()
	if bytes.Equal(k1, enrolled) {
		t.Fatal("the agent's key did not change")
	}
	if out, err := elevateAs(t, uid, sock, before); err == nil || !strings.Contains(out, "Wrong code") {
		t.Fatalf("code of the old key after the rotation: %v %s", err, out)
	}
	if out, err := elevateAs(t, uid, sock, issueCode(t, admin, dev, name, 5)); err != nil || !strings.Contains(out, "is an administrator until") {
		t.Fatalf("code of the new key: %v %s", err, out)
	}
	if _, err := agentAs(t, uid, "elevate", "--socket", sock, "--status"); err != nil {
		t.Fatal(err)
	}

	// Offline: pending; the old key still issues and verifies codes until
	// the agent is back and has stored the new key.
	if err := ra.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "agent offline", 10*time.Second, func() bool { return !admin.device(dev).Online })
	if st, state := rotate(0); st != 202 || state != "pending" {
		t.Fatalf("offline rotation: %d %s", st, state)
	}
	pending := issueCode(t, admin, dev, name, 5)
	ra2 := startAgent(t, elevationAgentConfig(t, ra.StateDir, sock, clk, request.Config{}))
	waitFor(t, "rotation completed when the agent came back", 20*time.Second, func() bool {
		return strings.Count(auditActions(t, admin, dev), "device.key_rotated") == 2
	})
	if ra2.StateDir != ra.StateDir {
		t.Fatal("the agent restarted elsewhere")
	}
	if k2 := agentKey(); bytes.Equal(k2, k1) {
		t.Fatal("the offline rotation did not change the agent's key")
	}
	if out, err := elevateAs(t, uid, sock, pending); err == nil || !strings.Contains(out, "Wrong code") {
		t.Fatalf("code issued while the rotation was pending, used after it completed: %v %s", err, out)
	}

	// The broker's database holds no key in the clear.
	e.stop()
	for _, p := range []string{"porthole.db", "porthole.db-wal"} {
		b, err := os.ReadFile(filepath.Join(e.DataDir, p))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, k := range [][]byte{enrolled, k1, agentKey()} {
			if bytes.Contains(b, k) {
				t.Fatalf("%s holds a device key in the clear", p)
			}
		}
	}
	e2 := startBrokerIn(t, e.DataDir, nil)
	admin2 := e2.login(t, "admin", e.Password)
	for action, actor := range map[string]string{"device.key_rotation_started": "user:admin", "device.key_rotated": "device:" + dev} {
		var recs []struct{ Actor string }
		admin2.do("GET", "/api/audit?target="+dev+"&action="+action, nil, &recs)
		if len(recs) != 2 || recs[0].Actor != actor || recs[1].Actor != actor {
			t.Errorf("%s: %+v, want twice by %s", action, recs, actor)
		}
	}
}
