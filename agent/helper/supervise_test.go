package helper

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func dur(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fakeLauncher is a machine whose console session and user a test sets;
// Start runs Serve with a fixture on an in-memory pipe, as a helper
// process would.
type fakeLauncher struct {
	mu      sync.Mutex
	session uint32
	pids    atomic.Uint32
	procs   chan *fakeProc

	pipes sync.Map // pipe name → *memListener
	local Local
}

func (l *fakeLauncher) Console() (uint32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.session, l.session != 0
}

func (l *fakeLauncher) setSession(s uint32) {
	l.mu.Lock()
	l.session = s
	l.mu.Unlock()
}

func (l *fakeLauncher) User(s uint32) (User, error) {
	return &fakeUser{l: l, sid: sidOf(s)}, nil
}

func sidOf(session uint32) string { return "S-1-5-21-1-1-1-" + string(rune('0'+session)) }

type fakeUser struct {
	l   *fakeLauncher
	sid string
}

func (u *fakeUser) SID() string  { return u.sid }
func (u *fakeUser) Close() error { return nil }

func (u *fakeUser) Start(_ string, args []string) (Process, error) {
	ln, ok := u.l.pipes.Load(args[2])
	if !ok || args[0] != "helper" || args[1] != "--pipe" {
		return nil, errors.New("no such pipe")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &fakeProc{pid: u.l.pids.Add(1), sid: u.sid, cancel: cancel, done: make(chan struct{})}
	c := ln.(*memListener).dial(p)
	go func() {
		defer close(p.done)
		_ = Serve(ctx, c, u.l.local)
	}()
	u.l.procs <- p
	return p, nil
}

type fakeProc struct {
	pid    uint32
	sid    string
	cancel context.CancelFunc
	done   chan struct{}
}

func (p *fakeProc) PID() uint32           { return p.pid }
func (p *fakeProc) Done() <-chan struct{} { return p.done }
func (p *fakeProc) Kill() error           { p.cancel(); return nil }

// memListener is a pipe name served in memory; dial records which
// process connected, for Peer.
type memListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

type peerConn struct {
	net.Conn
	p *fakeProc
}

func (l *memListener) dial(p *fakeProc) net.Conn {
	a, b := net.Pipe()
	select {
	case l.conns <- peerConn{a, p}:
	case <-l.closed:
		a.Close()
	}
	return b
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *memListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *memListener) Addr() net.Addr { return nil }

func superviseT(t *testing.T, l *fakeLauncher, peer func(net.Conn) (string, uint32, error)) *Hub {
	t.Helper()
	h := &Hub{}
	if peer == nil {
		peer = func(c net.Conn) (string, uint32, error) { p := c.(peerConn).p; return p.sid, p.pid, nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Supervise(ctx, SuperviseConfig{Hub: h, Launcher: l, Exe: "porthole-agent.exe", Poll: 10 * time.Millisecond,
			Listen: func(pipe, sid string) (net.Listener, error) {
				ln := &memListener{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
				l.pipes.Store(pipe, ln)
				return ln, nil
			},
			Peer: peer})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Supervise: %v", err)
		}
		h.Set(nil)
	})
	return h
}

// live is the Hub's helper if it answers, else nil.
func live(h *Hub) *Remote {
	r, err := h.Current()
	if err != nil {
		return nil
	}
	if _, err := r.Displays(); err != nil {
		return nil
	}
	return r
}

// TestSuperviseRestarts: the Hub reaches a helper once it is up; when the
// helper dies a new one takes its place; when another session takes the
// console the helper is replaced by one for that session's user.
func TestSuperviseRestarts(t *testing.T) {
	f := newFixture()
	l := &fakeLauncher{session: 1, procs: make(chan *fakeProc, 8), local: f.local()}
	h := superviseT(t, l, nil)
	first := <-l.procs
	var r1, r2 *Remote
	waitFor(t, "first helper", func() bool { r1 = live(h); return r1 != nil })

	first.Kill() // the helper dies
	second := <-l.procs
	if second.sid != sidOf(1) {
		t.Fatalf("restarted helper runs as %s", second.sid)
	}
	waitFor(t, "restarted helper", func() bool { r2 = live(h); return r2 != nil && r2 != r1 })

	l.setSession(2) // another user at the console
	third := <-l.procs
	<-second.Done()
	if third.sid != sidOf(2) {
		t.Fatalf("helper of the new console session runs as %s, want %s", third.sid, sidOf(2))
	}
	waitFor(t, "helper of the new session", func() bool { r := live(h); return r != nil && r != r2 })

	l.setSession(0) // nobody at the console
	<-third.Done()
	waitFor(t, "no helper", func() bool { _, err := h.Current(); return errors.Is(err, ErrNoHelper) })
}

// TestSuperviseChecksThePeer: a connection from another process than the
// helper started (another program of the user's that found the pipe) is
// refused and never reaches the Hub.
func TestSuperviseChecksThePeer(t *testing.T) {
	f := newFixture()
	l := &fakeLauncher{session: 1, procs: make(chan *fakeProc, 8), local: f.local()}
	h := superviseT(t, l, func(c net.Conn) (string, uint32, error) { p := c.(peerConn).p; return p.sid, p.pid + 100, nil })
	for range 2 {
		p := <-l.procs
		<-p.Done() // killed after the refusal
	}
	if _, err := h.Current(); !errors.Is(err, ErrNoHelper) {
		t.Fatalf("Hub has a helper from the wrong process: %v", err)
	}
}
