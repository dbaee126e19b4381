//go:build linux || darwin

package localsock

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestListenReplacesStaleSocketWorldWritable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	// A stale socket file, as a crashed agent leaves it.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o666 {
		t.Fatalf("mode %v, want a socket with 0666", fi.Mode())
	}
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()

	if _, err := Listen(filepath.Join(t.TempDir(), "missing", "x.sock")); err == nil {
		t.Fatal("Listen in a missing directory succeeded")
	}
}
