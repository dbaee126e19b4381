package e2e

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// brokerProc is the real broker binary running in its own process (for
// tests where a SIGKILL must be a real crash, or a second process must
// read the data dir while the broker writes).
type brokerProc struct {
	*env
	cmd    *exec.Cmd
	exited chan struct{}
}

// startBrokerBinary runs `porthole-broker serve` on a free address with
// data in dir and extra flags, waits for its first-run password (when dir
// is new) and for /healthz, and kills it at cleanup, showing its log.
func startBrokerBinary(t *testing.T, dir string, environ []string, args ...string) *brokerProc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(toolBin(t, "porthole-broker"), append([]string{"serve", "--listen", addr, "--data-dir", dir, "--heartbeat", "1s"}, args...)...)
	cmd.Env = append(os.Environ(), environ...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "broker.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	_, err = os.Stat(filepath.Join(dir, "porthole.db"))
	fresh := err != nil
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
	if fresh {
		select {
		case p.Password = <-pw:
		case <-time.After(20 * time.Second):
			t.Fatal("the broker printed no first-run password")
		}
	}
	waitFor(t, "broker up", 20*time.Second, func() bool {
		res, err := http.Get(p.URL + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

// kill sends sig and waits for the process to end.
func (p *brokerProc) kill(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
	<-p.exited
}
