package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestBackupRestoreWhileRunning: `porthole-broker backup` runs against the
// data dir of a running broker binary while the API writes (enrollment
// tokens, each one audited); `porthole-broker restore` puts it into a
// fresh dir and reports the verified chain; a broker started on the
// restored dir verifies its audit chain, knows the same admin password,
// has the data written before the backup and the same secret key.
func TestBackupRestoreWhileRunning(t *testing.T) {
	dir := t.TempDir()
	p := startBrokerBinary(t, dir, nil)
	admin := p.login(t, "admin", p.Password)
	before := 5
	for range before {
		admin.enrollToken(1, time.Hour)
	}
	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if st, _ := admin.do("POST", "/api/enroll-tokens", map[string]any{"max_uses": 1, "expires_in_seconds": 3600}, nil); st == 201 {
				written.Add(1)
			}
		}
	})
	waitFor(t, "writes under way", 10*time.Second, func() bool { return written.Load() >= 3 })
	file := filepath.Join(t.TempDir(), "porthole.backup")
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("a long backup passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(toolBin(t, "porthole-broker"), "backup", "--data-dir", dir, "--to", file, "--passphrase-file", pass).CombinedOutput()
	close(stop)
	wg.Wait()
	if err != nil || !strings.Contains(string(out), "audit chain verified") {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	t.Logf("backup: %s (%d tokens written meanwhile)", out, written.Load())

	// Refused: a non-empty dir, a missing passphrase.
	if out, err := exec.Command(toolBin(t, "porthole-broker"), "restore", "--from", file, "--data-dir", dir, "--passphrase-file", pass).CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
		t.Fatalf("restore over the live dir: %v\n%s", err, out)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if out, err := exec.Command(toolBin(t, "porthole-broker"), "restore", "--from", file, "--data-dir", restored).CombinedOutput(); err == nil || !strings.Contains(string(out), "passphrase") {
		t.Fatalf("restore without the passphrase: %v\n%s", err, out)
	}
	out, err = exec.Command(toolBin(t, "porthole-broker"), "restore", "--from", file, "--data-dir", restored, "--passphrase-file", pass).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Audit chain verified") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	t.Logf("restore: %s", out)
	p.kill(syscall.SIGTERM)

	e := startBrokerIn(t, restored, nil)
	c := e.login(t, "admin", p.Password)
	var v struct {
		OK      bool
		Checked int64
	}
	if st, body := c.do("GET", "/api/audit/verify", nil, &v); st != 200 || !v.OK || v.Checked < int64(before) {
		t.Fatalf("audit verify on the restored broker: %d %s", st, body)
	}
	var toks []struct{ ID string }
	if st, body := c.do("GET", "/api/enroll-tokens", nil, &toks); st != 200 || len(toks) < before+3 {
		t.Fatalf("tokens on the restored broker: %d (want at least %d) %s", len(toks), before+3, body)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "secret.key"))
	b, err := os.ReadFile(filepath.Join(restored, "secret.key"))
	if err != nil || len(a) == 0 || string(a) != string(b) {
		t.Fatalf("secret key not restored: %v", err)
	}
}
