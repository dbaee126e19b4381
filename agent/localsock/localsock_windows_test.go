package localsock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"os/user"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// pipeName is a fresh pipe path for one test.
func pipeName(t *testing.T) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return `\\.\pipe\porthole-test-` + t.Name() + "-" + hex.EncodeToString(b)
}

// listenT listens on a fresh pipe and accepts in the background.
func listenT(t *testing.T, listen func(string) (net.Listener, error)) (string, net.Listener, <-chan net.Conn) {
	t.Helper()
	path := pipeName(t)
	ln, err := listen(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 4)
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	return path, ln, accepted
}

func dialT(t *testing.T, path string, accepted <-chan net.Conn) (client, server net.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	select {
	case s := <-accepted:
		t.Cleanup(func() { s.Close() })
		return c, s
	case <-ctx.Done():
		t.Fatal("no connection accepted")
	}
	return nil, nil
}

// TestPipeEcho: what one side writes the other reads, both ways, and a
// closed side reads as EOF on the other.
func TestPipeEcho(t *testing.T) {
	path, _, accepted := listenT(t, Listen)
	c, s := dialT(t, path, accepted)
	go func() { _, _ = io.Copy(s, s) }() // echo until the client closes
	msg := []byte(strings.Repeat("hello pipe ", 10000))
	go func() { _, _ = c.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
		t.Fatalf("echo: %v (%d bytes)", err, len(got))
	}
	c.Close()
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := s.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("read after the client closed = %d, %v", n, err)
	}
}

// TestPipeDeadline: a read past its deadline fails with a timeout, and
// the connection works again with a new deadline.
func TestPipeDeadline(t *testing.T) {
	path, _, accepted := listenT(t, Listen)
	c, s := dialT(t, path, accepted)
	_ = s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := s.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline = %v, want a timeout", err)
	}
	_ = s.SetReadDeadline(time.Time{})
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(s, b); err != nil || b[0] != 'x' {
		t.Fatalf("read after the deadline was lifted = %q, %v", b, err)
	}
}

// TestPipeCloseUnblocksAccept: Close ends a blocked Accept.
func TestPipeCloseUnblocksAccept(t *testing.T) {
	ln, err := Listen(pipeName(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let Accept block (it would also fail if called after Close)
	ln.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Accept after Close succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still blocked 10 s after Close")
	}
}

// TestPipeFirstInstance: a second listener on a name in use is refused,
// so whoever creates the name first (the agent, or a squatter) is the only
// server: the agent fails at start rather than share its callers.
func TestPipeFirstInstance(t *testing.T) {
	path, _, accepted := listenT(t, Listen)
	if ln, err := Listen(path); err == nil {
		ln.Close()
		t.Fatal("a second listener on the same pipe name was created")
	}
	if ln, err := ListenSDDL(path, "D:P(A;;GA;;;WD)"); err == nil {
		ln.Close()
		t.Fatal("a second listener with a permissive ACL was created")
	}
	dialT(t, path, accepted) // the first still serves
}

// TestPeerUser: the server learns the account of the process that
// connected (this test's), from the kernel.
func TestPeerUser(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	computer, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	// os/user says DOMAIN\name; an account of this computer is named bare.
	want := me.Username
	if d, n, ok := strings.Cut(me.Username, `\`); ok && strings.EqualFold(d, computer) {
		want = n
	}
	path, _, accepted := listenT(t, Listen)
	_, s := dialT(t, path, accepted)
	got, err := PeerUser(s)
	if err != nil || got != want {
		t.Fatalf("PeerUser = %q, %v; want %q (os/user: %q)", got, err, want, me.Username)
	}
	sid, err := PeerSID(s)
	if err != nil || sid != me.Uid {
		t.Fatalf("PeerSID = %q, %v; want %q", sid, err, me.Uid)
	}
	if pid, err := PeerPID(s); err != nil || pid != uint32(os.Getpid()) {
		t.Fatalf("PeerPID = %d, %v; want %d", pid, err, os.Getpid())
	}

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := PeerUser(a); !errors.Is(err, ErrPeer) {
		t.Fatalf("PeerUser(net.Pipe) = %v, want ErrPeer", err)
	}
}

// TestPipeACL: the DACL the kernel holds for the pipe is the one built by
// PublicSDDL / PrivateSDDL (read back through a client handle).
func TestPipeACL(t *testing.T) {
	self, err := SelfSID()
	if err != nil {
		t.Fatal(err)
	}
	const other = "S-1-5-21-1-2-3-1001"
	public, _ := PublicSDDL(self)
	private, _ := PrivateSDDL(self, other)
	for _, tc := range []struct {
		name   string
		listen func(string) (net.Listener, error)
		want   string
	}{
		{"public", Listen, public},
		{"private", func(p string) (net.Listener, error) { return ListenPrivate(p, other) }, private},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _, accepted := listenT(t, tc.listen)
			c, _ := dialT(t, path, accepted)
			sd, err := windows.GetSecurityInfo(windows.Handle(c.(*conn).f.Fd()), windows.SE_KERNEL_OBJECT, windows.DACL_SECURITY_INFORMATION)
			if err != nil {
				t.Fatal(err)
			}
			want, err := windows.SecurityDescriptorFromString(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := sd.String(), want.String(); got != want {
				t.Fatalf("pipe DACL %s, want %s", got, want)
			}
		})
	}
}
