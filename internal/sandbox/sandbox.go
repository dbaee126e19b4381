// Package sandbox runs tests that create local users or write sudoers
// drop-ins inside a private mount namespace (unshare, util-linux) over a
// throwaway copy of /etc, so this machine's real accounts and sudoers are
// never touched — even by a test that crashes half way. Tests need root,
// which CI has.
package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// inside marks a process that runs in the namespace over the /etc copy.
const inside = "PORTHOLE_SANDBOX_ETC"

// Main is for TestMain: it re-runs the whole test binary in a private
// mount namespace, where run (usually m.Run) sees a throwaway /etc. It
// returns the exit code for os.Exit.
func Main(run func() int) int {
	if os.Getenv(inside) == "" {
		if err := need(); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			return 1
		}
		cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", os.Args[0]}, os.Args[1:]...)...)
		cmd.Env = append(os.Environ(), inside+"=1")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode()
			}
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			return 1
		}
		return 0
	}
	undo, err := throwawayEtc()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	defer undo()
	return run()
}

// Test is for one test of a package that mostly runs outside the
// sandbox: outside, it re-runs t alone in the namespace (with env added),
// fails t if that run fails, and returns false; inside, it mounts the
// throwaway /etc for t and returns true.
//
//	if !sandbox.Test(t) { return }
func Test(t *testing.T, env ...string) bool {
	t.Helper()
	if os.Getenv(inside) != "" {
		undo, err := throwawayEtc()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(undo)
		return true
	}
	if err := need(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", os.Args[0],
		"-test.run", "^"+t.Name()+"$", "-test.count", "1", "-test.v")
	cmd.Env = append(append(os.Environ(), inside+"=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("in a throwaway namespace: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("in a throwaway namespace:\n%s", out)
	}
	return false
}

func need() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("these tests change accounts and sudoers in a private namespace: run them as root (CI does)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return fmt.Errorf("unshare not installed (Debian package util-linux)")
	}
	return nil
}

// throwawayEtc bind-mounts a copy of /etc over /etc; this process is in a
// private mount namespace, so only it and its children see the copy.
func throwawayEtc() (undo func(), err error) {
	dir, err := os.MkdirTemp("", "porthole-etc-")
	if err != nil {
		return nil, err
	}
	if out, err := exec.Command("cp", "-a", "/etc", dir).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("copy /etc: %v: %s", err, out)
	}
	if err := syscall.Mount(filepath.Join(dir, "etc"), "/etc", "", syscall.MS_BIND, ""); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bind-mount the /etc copy: %w", err)
	}
	return func() {
		_ = syscall.Unmount("/etc", syscall.MNT_DETACH)
		os.RemoveAll(dir)
	}, nil
}
