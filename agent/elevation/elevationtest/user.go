// Package elevationtest helps test code that uses agent/elevation: throwaway
// local users and codes issued the way the broker issues them (the fake
// clock is clocktest.TimerClock).
package elevationtest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"testing"
	"time"

	"porthole/internal/elevcode"
)

// UserPrefix starts the name of every user User creates; SweepUsers
// removes leftovers of a crashed run.
const UserPrefix = "phel-"

// NeedRoot skips t when not root: granting admin rights changes the real
// system. CI runs the tests as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("elevation tests change /etc/sudoers.d and create users: run `go test` as root (CI does)")
	}
	for _, tool := range []string{"useradd", "userdel", "runuser", "sudo", "visudo", "pkill"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (Debian packages: passwd, util-linux, sudo, procps)", tool)
		}
	}
}

// User creates a throwaway local user without a home and returns its name
// and uid; t.Cleanup kills its processes and deletes it.
func User(t testing.TB) (name, uid string) {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name = UserPrefix + hex.EncodeToString(b[:])
	if out, err := exec.Command("useradd", "-M", "-N", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { removeUser(name) })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("lookup %s: %v", name, err)
	}
	return name, u.Uid
}

// SweepUsers deletes every user whose name starts with UserPrefix (left by
// a crashed test run); for TestMain. It uses only system tools.
func SweepUsers() {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, _, _ := strings.Cut(sc.Text(), ":")
		if strings.HasPrefix(name, UserPrefix) {
			removeUser(name)
		}
	}
}

func removeUser(name string) {
	_ = exec.Command("pkill", "-KILL", "-u", name).Run()
	time.Sleep(50 * time.Millisecond)
	_ = exec.Command("userdel", "-f", name).Run()
}

// Code issues a code as the broker does, with a random nonce.
func Code(t testing.TB, secret []byte, deviceID, userName string, d time.Duration, issuedAt time.Time) string {
	t.Helper()
	nonce, err := elevcode.RandomNonce()
	if err != nil {
		t.Fatal(err)
	}
	code, err := elevcode.Issue(secret, elevcode.Claims{DeviceID: deviceID, User: userName, Duration: d, IssuedAt: issuedAt, Nonce: nonce})
	if err != nil {
		t.Fatalf("issue code: %v", err)
	}
	return code
}
