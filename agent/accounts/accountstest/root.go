//go:build linux

// Package accountstest makes throwaway account databases for tests of
// break glass, so that no test ever creates or deletes an account of the
// machine it runs on.
//
// NewRoot builds a minimal root (etc/passwd, group with "sudo", shadow,
// gshadow, login.defs, skel, home, var/log) that accounts.Config.Root points
// the Linux implementation at. InRoot runs a command in a private mount
// namespace where that root's files are bind-mounted over the machine's,
// so independent tools (getent, id, unix_chkpwd, login) check the result
// with the system's own code.
package accountstest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Root is a throwaway account database.
type Root struct {
	// Dir is the directory for accounts.Config.Root.
	Dir string
	// UIDMin is the first uid useradd hands out in it: a random range far
	// above the machine's users, so killing "the processes of uid N" can
	// only ever hit processes of this test.
	UIDMin int
}

// uidRanges is how many 1000-uid ranges NewRoot picks from, above 2^21.
const uidRanges = 1000

// NewRoot makes a root in a test temporary directory.
func NewRoot(t testing.TB) Root {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	r := Root{Dir: t.TempDir(), UIDMin: 1<<21 + int(binary.LittleEndian.Uint32(b[:])%uidRanges)*1000}
	files := map[string]string{
		"etc/passwd":  "root:x:0:0:root:/root:/bin/bash\n",
		"etc/shadow":  "root:*:19000:0:99999:7:::\n",
		"etc/group":   "root:x:0:\nsudo:x:27:\nusers:x:100:\n",
		"etc/gshadow": "root:*::\nsudo:*::\nusers:*::\n",
		"etc/login.defs": fmt.Sprintf("UID_MIN %d\nUID_MAX %d\nGID_MIN %d\nGID_MAX %d\nUSERGROUPS_ENAB yes\nENCRYPT_METHOD YESCRYPT\n",
			r.UIDMin, r.UIDMin+999, r.UIDMin, r.UIDMin+999),
		"etc/skel/.profile": "# throwaway root\n",
		"var/log/lastlog":   "",
		"var/log/wtmp":      "",
	}
	for _, d := range []string{"etc/skel", "home", "root", "var/log", "var/mail"} {
		if err := os.MkdirAll(filepath.Join(r.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.Contains(name, "shadow") {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(r.Dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// bound are the paths InRoot replaces with the root's.
var bound = []string{"etc/passwd", "etc/shadow", "etc/group", "etc/gshadow", "home", "var/log"}

// Command returns a command that runs name with args in a private mount
// namespace (unshare, util-linux) where the root's account files, homes and
// login records replace the machine's. Nothing outside the namespace sees
// the change.
func (r Root) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	var script strings.Builder
	for _, p := range bound {
		fmt.Fprintf(&script, "mount --bind %q %q && ", filepath.Join(r.Dir, p), "/"+p)
	}
	script.WriteString(`exec "$@"`)
	full := append([]string{"--mount", "--propagation", "private", "sh", "-c", script.String(), "sh", name}, args...)
	cmd := exec.CommandContext(ctx, "unshare", full...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	return cmd
}

// InRoot runs name with args inside the root (see Command) and returns its
// combined output and exit status (-1 if it did not exit).
func (r Root) InRoot(t testing.TB, stdin string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := r.Command(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return string(out), 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	t.Fatalf("%s in root: %v: %s", name, err, out)
	return "", -1
}

// UserExists asks getent, inside the root, whether name is a user.
func (r Root) UserExists(t testing.TB, name string) bool {
	t.Helper()
	out, code := r.InRoot(t, "", "getent", "passwd", name)
	switch code {
	case 0:
		return true
	case 2:
		return false
	}
	t.Fatalf("getent passwd %s: exit %d: %s", name, code, out)
	return false
}

// CheckPassword asks PAM's helper unix_chkpwd (what pam_unix runs to check
// a password against shadow with libcrypt), inside the root, whether
// password is name's.
func (r Root) CheckPassword(t testing.TB, name, password string) bool {
	t.Helper()
	out, code := r.InRoot(t, password+"\x00", "unix_chkpwd", name, "nonull")
	switch code {
	case 0:
		return true
	case 7: // PAM_AUTH_ERR
		return false
	}
	t.Fatalf("unix_chkpwd %s: exit %d: %s", name, code, out)
	return false
}

// Groups lists name's groups with id -nG inside the root.
func (r Root) Groups(t testing.TB, name string) []string {
	t.Helper()
	out, code := r.InRoot(t, "", "id", "-nG", name)
	if code != 0 {
		t.Fatalf("id -nG %s: exit %d: %s", name, code, out)
	}
	return strings.Fields(out)
}

// Passwd returns name's passwd fields from the root's etc/passwd.
func (r Root) Passwd(t testing.TB, name string) []string {
	t.Helper()
	out, code := r.InRoot(t, "", "getent", "passwd", name)
	if code != 0 {
		t.Fatalf("getent passwd %s: exit %d: %s", name, code, out)
	}
	return strings.Split(strings.TrimSpace(out), ":")
}

// Home is where name's home directory lives on disk.
func (r Root) Home(name string) string { return filepath.Join(r.Dir, "home", name) }

// StartAs starts sleep as the user's uid and gid (from the root's passwd)
// and returns the command and a channel that receives its exit; the
// process is killed at cleanup.
func (r Root) StartAs(t testing.TB, name string) (*exec.Cmd, <-chan error) {
	t.Helper()
	f := r.Passwd(t, name)
	var uid, gid uint32
	if _, err := fmt.Sscan(f[2]+" "+f[3], &uid, &gid); err != nil {
		t.Fatalf("passwd entry %v: %v", f, err)
	}
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	return Start(t, cmd)
}

// Start starts cmd, kills it at cleanup and returns a channel with its exit.
func Start(t testing.TB, cmd *exec.Cmd) (*exec.Cmd, <-chan error) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- cmd.Wait()
		close(finished)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-finished
	})
	return cmd, done
}
