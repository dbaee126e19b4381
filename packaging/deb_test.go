package packaging_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// run runs a command and fails the test with its output when it fails.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// buildDebs builds the three binaries (stripped, like make packages; the
// agent without -buildmode=pie so the test reuses the build cache) and
// both packages.
func buildDebs(t *testing.T) (broker, agent string) {
	t.Helper()
	bin, dist := t.TempDir(), t.TempDir()
	run(t, []string{"CGO_ENABLED=0"}, "go", "build", "-ldflags=-s -w", "-o", bin+"/", "porthole/cmd/porthole-broker", "porthole/cmd/porthole")
	run(t, nil, "go", "build", "-ldflags=-s -w", "-o", bin+"/", "porthole/cmd/porthole-agent")
	out := strings.Fields(run(t, []string{"SOURCE_DATE_EPOCH=1767225600"}, "./build-deb.sh", "1.2.3", bin, dist))
	if len(out) != 2 {
		t.Fatalf("build-deb.sh printed %q", out)
	}
	return out[0], out[1]
}

// contents lists a package's files as "mode path".
func contents(t *testing.T, deb string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(run(t, nil, "dpkg-deb", "--contents", deb), "\n") {
		f := strings.Fields(l)
		if len(f) >= 6 {
			out[strings.TrimPrefix(f[5], ".")] = f[0]
		}
	}
	return out
}

// newRoot makes an empty dpkg root with the systemd targets the units
// order themselves after, for systemd-analyze --root.
func newRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "etc", "lib/systemd/system", "var/log"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"sysinit.target", "basic.target", "multi-user.target", "network-online.target", "graphical.target"} {
		b, err := os.ReadFile(filepath.Join("/lib/systemd/system", u))
		if err != nil {
			t.Fatalf("systemd's %s (install-deps installs systemd): %v", u, err)
		}
		if err := os.WriteFile(filepath.Join(root, "lib/systemd/system", u), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// dpkg runs dpkg on root. Maintainer scripts run outside a chroot with
// DPKG_ROOT set (the root has no shell); systemd is not installed there.
func dpkg(t *testing.T, root string, args ...string) string {
	t.Helper()
	return run(t, nil, "dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--force-not-root", "--force-depends",
		"--log=/dev/null"}, args...)...)
}

func exists(root, p string) bool {
	_, err := os.Lstat(filepath.Join(root, p))
	return err == nil
}

// TestPackages: both .deb packages build, pass lintian (errors fail the
// test), carry the files and modes they must, their units pass
// systemd-analyze verify, and they install, remove and purge cleanly in a
// throwaway root: the system user and its 0700 state directory appear,
// remove keeps configuration and state, purge deletes them.
func TestPackages(t *testing.T) {
	for _, tool := range []string{"dpkg-deb", "lintian", "systemd-analyze", "fakeroot", "dpkg-shlibdeps"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s missing (make deps installs it): %v", tool, err)
		}
	}
	brokerDeb, agentDeb := buildDebs(t)

	// hardening-no-pie: only this test's agent is not PIE (make packages' is).
	out := run(t, nil, "lintian", "--fail-on", "error,warning", "--suppress-tags", "hardening-no-pie", "--tag-display-limit", "0", brokerDeb, agentDeb)
	t.Logf("lintian: %s", strings.TrimSpace(out))

	bc := contents(t, brokerDeb)
	for p, mode := range map[string]string{
		"/usr/bin/porthole-broker":                     "-rwxr-xr-x",
		"/usr/bin/porthole":                            "-rwxr-xr-x",
		"/lib/systemd/system/porthole-broker.service":  "-rw-r--r--",
		"/etc/porthole/broker.json":                    "-rw-r--r--",
		"/etc/porthole/broker.env":                     "-rw-------",
		"/usr/lib/sysusers.d/porthole-broker.conf":     "-rw-r--r--",
		"/usr/lib/tmpfiles.d/porthole-broker.conf":     "-rw-r--r--",
		"/usr/share/doc/porthole-broker/copyright":     "-rw-r--r--",
		"/usr/share/doc/porthole-broker/changelog.gz":  "-rw-r--r--",
		"/usr/share/lintian/overrides/porthole-broker": "-rw-r--r--",
	} {
		if bc[p] != mode {
			t.Errorf("broker package: %s is %q, want %q", p, bc[p], mode)
		}
	}
	ac := contents(t, agentDeb)
	for _, p := range []string{"/usr/bin/porthole-agent", "/lib/systemd/system/porthole-agent.service", "/etc/porthole/agent.env"} {
		if ac[p] == "" {
			t.Errorf("agent package lacks %s", p)
		}
	}
	if deps := run(t, nil, "dpkg-deb", "--field", agentDeb, "Depends"); !strings.Contains(deps, "libvpx") {
		t.Errorf("agent Depends %q lacks libvpx", deps)
	}

	root := newRoot(t)
	dpkg(t, root, "-i", brokerDeb, agentDeb)
	for _, unit := range []string{"porthole-broker.service", "porthole-agent.service"} {
		if out := run(t, nil, "systemd-analyze", "--root="+root, "verify", unit); strings.TrimSpace(out) != "" {
			t.Errorf("systemd-analyze verify %s: %s", unit, out)
		}
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil || !bytes.Contains(passwd, []byte("porthole:x:")) || !bytes.Contains(passwd, []byte(":/var/lib/porthole:/usr/sbin/nologin")) {
		t.Fatalf("no porthole system user: %v\n%s", err, passwd)
	}
	var uid int
	for _, l := range strings.Split(string(passwd), "\n") {
		if strings.HasPrefix(l, "porthole:x:") {
			fmt.Sscanf(strings.Split(l, ":")[2], "%d", &uid)
		}
	}
	fi, err := os.Stat(filepath.Join(root, "var/lib/porthole"))
	if err != nil || fi.Mode().Perm() != 0o700 || int(fi.Sys().(*syscall.Stat_t).Uid) != uid || uid == 0 {
		t.Fatalf("state dir: %v %v (porthole is uid %d)", fi, err, uid)
	}
	if st := run(t, nil, "dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f=${Status}\n", "porthole-broker", "porthole-agent"); strings.Count(st, "install ok installed") != 2 {
		t.Fatalf("not installed: %s", st)
	}

	// The packaged configuration is what the broker reads (unknown keys
	// would be errors): it starts on it, paths redirected into the test.
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pwFile := filepath.Join(data, "initial-admin-password")
	cmd := exec.CommandContext(ctx, filepath.Join(root, "usr/bin/porthole-broker"), "serve", "--config", filepath.Join(root, "etc/porthole/broker.json"),
		"--listen", "127.0.0.1:0", "--data-dir", data, "--initial-password-file", pwFile)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(25 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(pwFile); err == nil && bytes.Contains(b, []byte("password")) {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			cmd.Wait()
			t.Fatalf("the broker did not start on the packaged config:\n%s", log.String())
		}
	}
	if fi, err := os.Stat(pwFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("initial password file: %v %v", fi, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	b, _ := os.ReadFile(pwFile)
	for _, l := range strings.Split(string(b), "\n") {
		if pw := strings.TrimSpace(l); strings.HasPrefix(l, "    ") && pw != "" && strings.Contains(log.String(), pw) {
			t.Errorf("the password reached the output:\n%s", log.String())
		}
	}

	// Remove keeps configuration and state; purge deletes them.
	os.WriteFile(filepath.Join(root, "var/lib/porthole/porthole.db"), []byte("data"), 0o600)
	dpkg(t, root, "-r", "porthole-broker", "porthole-agent")
	for _, p := range []string{"etc/porthole/broker.json", "etc/porthole/broker.env", "var/lib/porthole/porthole.db"} {
		if !exists(root, p) {
			t.Errorf("remove deleted %s", p)
		}
	}
	if exists(root, "usr/bin/porthole-broker") || exists(root, "lib/systemd/system/porthole-broker.service") {
		t.Error("remove left the program")
	}
	dpkg(t, root, "--purge", "porthole-broker", "porthole-agent")
	for _, p := range []string{"etc/porthole", "var/lib/porthole", "var/lib/porthole-agent"} {
		if exists(root, p) {
			t.Errorf("purge left %s", p)
		}
	}
}
