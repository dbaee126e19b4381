package helper

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"porthole/agent/consent"
	"porthole/agent/localsock"
	"porthole/agent/support"
	"porthole/internal/wire"
)

// childMain runs this test binary as a helper when a test started it so
// (`helper --pipe NAME`, as porthole-agent's helper command): it serves
// the fixture's fakes on the real named pipe. Its form answers with the
// input it was given, so the test can read that back.
func childMain() bool {
	if len(os.Args) != 4 || os.Args[1] != "helper" || os.Args[2] != "--pipe" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := localsock.Dial(ctx, os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	f := newFixture()
	l := f.local()
	l.Form = inputEcho{f}
	if err := Serve(ctx, c, l); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

type inputEcho struct{ f *fixture }

func (e inputEcho) Form(context.Context, string, []string, time.Duration) ([]string, error) {
	var out []string
	for _, ev := range e.f.rec.Events() {
		b, _ := wire.EncodeInput(ev)
		out = append(out, string(b))
	}
	return []string{strings.Join(out, "\n")}, nil
}

// TestSpawnedHelperOverNamedPipe: the supervisor starts a helper process
// (this test binary, CreateProcess), on a private named pipe for this
// user, checks the peer's SID and process id, and the agent's services go
// through the real pipe: displays, consent, the indicator, encoded video,
// input; killing the helper brings a new one.
func TestSpawnedHelperOverNamedPipe(t *testing.T) {
	self, err := localsock.SelfSID()
	if err != nil {
		t.Fatal(err)
	}
	testHelperOverNamedPipe(t, Spawn{SID: self})
}

// TestSessionHelperUnderWine: the same with the service's launcher and its
// real calls: Wine 8 has a console session (1) whose user token
// WTSQueryUserToken returns (the prefix's one user), and starts the helper
// with CreateProcessAsUser on winsta0\default with the user's environment
// block. (Wine has no session 0 and one account: the separation between a
// SYSTEM service and the user's session is not shown here.)
func TestSessionHelperUnderWine(t *testing.T) {
	l := NewSessionLauncher()
	s, ok := l.Console()
	if !ok {
		t.Fatalf("no console session (%d)", s)
	}
	u, err := l.User(s)
	if err != nil {
		t.Fatal(err)
	}
	self, _ := localsock.SelfSID()
	if u.SID() != self {
		t.Fatalf("the console user is %s, want this test's account %s", u.SID(), self)
	}
	u.Close()
	testHelperOverNamedPipe(t, l)
}

func testHelperOverNamedPipe(t *testing.T, l Launcher) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &Hub{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Supervise(ctx, SuperviseConfig{Hub: h, Launcher: l, Exe: exe, Poll: 100 * time.Millisecond,
			Listen: localsock.ListenPrivate,
			Peer: func(c net.Conn) (string, uint32, error) {
				sid, err := localsock.PeerSID(c)
				if err != nil {
					return "", 0, err
				}
				pid, err := localsock.PeerPID(c)
				return sid, pid, err
			}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Supervise: %v", err)
		}
	}()
	var r1 *Remote
	deadline := time.Now().Add(60 * time.Second)
	for r1 = live(h); r1 == nil; r1 = live(h) {
		if time.Now().After(deadline) {
			t.Fatal("no helper connected within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r1.PID() == uint32(os.Getpid()) || r1.PID() == 0 {
		t.Fatalf("helper pid %d: not a child process", r1.PID())
	}
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	defer ccancel()
	if a, err := h.Ask(cctx, consent.Request{Requester: "Ann Admin"}); err != nil || a != consent.Allowed {
		t.Fatalf("Ask = %v, %v", a, err)
	}
	if _, stop, err := h.Show(cctx, consent.Request{Requester: "Ann Admin"}); err != nil {
		t.Fatal(err)
	} else {
		stop()
	}

	vctx, vcancel := context.WithCancel(cctx)
	n := 0
	start := time.Now()
	err = h.RunVideo(vctx, wire.Display{Width: 64, Height: 48}, support.EncoderConfig{FPS: 30, BitrateKbps: 100, Threads: 1},
		func(b []byte, key bool, _ time.Duration) error {
			if n++; n == 30 {
				vcancel()
			}
			return nil
		}, nil)
	if err != nil || n < 30 {
		t.Fatalf("RunVideo = %v after %d frames", err, n)
	}
	t.Logf("30 frames over the pipe in %v", time.Since(start))

	inj, err := h.NewInjector([]wire.Display{{Width: 64, Height: 48}}, false)
	if err != nil {
		t.Fatal(err)
	}
	ev := wire.Input{Kind: wire.InputKeyDown, Code: "KeyQ"}
	if err := inj.Inject(cctx, ev); err != nil {
		t.Fatal(err)
	}
	want, _ := wire.EncodeInput(ev)
	for {
		got, err := h.Form(cctx, "events", []string{"injected"}, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 && got[0] == string(want) {
			break
		}
		if cctx.Err() != nil {
			t.Fatalf("the helper injected %q, want %s", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	inj.Close()

	// The helper dies: the supervisor starts another.
	p, err := os.FindProcess(int(r1.PID()))
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	deadline = time.Now().Add(60 * time.Second)
	for r := live(h); r == nil || r == r1; r = live(h) {
		if time.Now().After(deadline) {
			t.Fatal("no new helper within 60 s of the first one's death")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
