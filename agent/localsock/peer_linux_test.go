package localsock

import (
	"context"
	"errors"
	"net"
	"os/user"
	"path/filepath"
	"testing"
)

// TestPeerUserIsTheConnectingAccount: the server side learns the account
// of the process that connected (this test's) from the kernel.
func TestPeerUserIsTheConnectingAccount(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(filepath.Join(t.TempDir(), "peer.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := Dial(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer srv.Close()
	got, err := PeerUser(srv)
	if err != nil || got != me.Username {
		t.Fatalf("PeerUser = %q, %v; want %q", got, err, me.Username)
	}

	// Not a unix socket: no kernel to ask.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := PeerUser(a); !errors.Is(err, ErrPeer) {
		t.Fatalf("PeerUser(pipe) = %v, want ErrPeer", err)
	}
}
