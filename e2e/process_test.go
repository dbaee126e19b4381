package e2e

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// brokerProc is a real porthole-broker binary running as its own process
// (so that a kill is a real crash, and its memory is its own), with a
// fresh data dir and its first admin.
type brokerProc struct {
	*env
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has ended
}

// startBrokerProcess starts "porthole-broker serve" on a free loopback
// port with extra flags, waits until /healthz answers, and kills it when
// the test ends (showing its log if the test failed).
func startBrokerProcess(t *testing.T, extra ...string) *brokerProc {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(toolBin(t, "porthole-broker"), append([]string{"serve", "--listen", addr, "--data-dir", dir}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "broker.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &brokerProc{env: &env{t: t, URL: "http://" + addr, DataDir: dir}, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		showLog(t, "broker", logf.Name())
	})
	pw := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := pwLine.FindStringSubmatch(sc.Text()); m != nil {
				pw <- m[1]
			} else if f := strings.Fields(sc.Text()); len(f) == 1 && len(f[0]) > 12 {
				pw <- f[0] // the password sits on its own line below "password:"
			}
		}
	}()
	select {
	case p.Password = <-pw:
	case <-time.After(20 * time.Second):
		t.Fatal("the broker printed no first-run password")
	}
	waitFor(t, "broker up", 10*time.Second, func() bool {
		res, err := http.Get(p.URL + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}
