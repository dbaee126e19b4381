package helper

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// The service side of the helper's life: start it in the console user's
// session, accept it on a pipe made for that user only, hand it to the
// Hub, and start it again when it dies or the console changes hands.

// Launcher starts helpers. SessionLauncher (launch.go) starts them in a
// user's session with that user's token, as the Windows service must;
// Spawn starts a plain child process as the agent's own user (run
// --helper=spawn, tests).
type Launcher interface {
	// Console is the session at the physical console; ok is false when no
	// user session is attached to it.
	Console() (session uint32, ok bool)
	// User opens the user logged on in session (ErrNoUser: nobody).
	User(session uint32) (User, error)
}

// User is a logged-on user a helper can be started for.
type User interface {
	// SID is the user's SID: the only client the helper's pipe admits.
	SID() string
	// Start starts exe with args as this user, in their session.
	Start(exe string, args []string) (Process, error)
	Close() error
}

// Process is a started helper.
type Process interface {
	PID() uint32
	// Done is closed when the process has exited.
	Done() <-chan struct{}
	Kill() error
}

// ErrNoUser: nobody is logged on in the session.
var ErrNoUser = errors.New("helper: nobody is logged on in the session")

// SuperviseConfig wires Supervise.
type SuperviseConfig struct {
	Hub      *Hub
	Launcher Launcher
	// Exe is the agent's executable, started as `Exe helper --pipe NAME`.
	Exe string
	// Listen creates the helper's pipe for one user (localsock.ListenPrivate).
	Listen func(pipe, userSID string) (net.Listener, error)
	// Peer names the process at the other end of an accepted connection:
	// its account's SID and its process id (localsock.PeerSID, PeerPID).
	Peer func(net.Conn) (sid string, pid uint32, err error)
	// PipeName makes a fresh pipe name; default PipeName.
	PipeName func() string
	// Poll is how often the console session is checked; default 2 s.
	Poll time.Duration
	// ConnectTimeout bounds the wait for a started helper; default 30 s.
	ConnectTimeout time.Duration
	Logger         *slog.Logger
}

// PipeName is a fresh name for a helper pipe, with 128 random bits: other
// users cannot guess it to squat it first (the pipe is created with
// FILE_FLAG_FIRST_PIPE_INSTANCE anyway, so a squatted name fails the
// launch instead of being served).
func PipeName() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return `\\.\pipe\porthole-helper-` + hex.EncodeToString(b)
}

// HelperArgs are the arguments of a helper started on pipe.
func HelperArgs(pipe string) []string { return []string{"helper", "--pipe", pipe} }

// Restart policy: a helper that ran at least stableRun is restarted after
// minDelay; one that died sooner waits twice as long as the last time, up
// to maxDelay, so a helper that cannot start does not spin.
const (
	minDelay  = time.Second
	maxDelay  = time.Minute
	stableRun = 30 * time.Second
)

// nextDelay is the wait before the next start after a helper that ran for
// lived, when the wait before it was prev.
func nextDelay(lived, prev time.Duration) time.Duration {
	if lived >= stableRun || prev < minDelay {
		return minDelay
	}
	return min(2*prev, maxDelay)
}

// errSessionChanged ends a helper whose session left the console.
var errSessionChanged = errors.New("the console session changed")

// Supervise keeps a helper running for the console's user until ctx ends.
// While there is none (nobody logged on, a session switch, a helper being
// restarted) the Hub has no helper and the core's calls fail with
// ErrNoHelper.
func Supervise(ctx context.Context, cfg SuperviseConfig) error {
	if cfg.PipeName == nil {
		cfg.PipeName = PipeName
	}
	if cfg.Poll == 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("component", "helper")
	var delay time.Duration
	for {
		if delay > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
		}
		sess, ok := cfg.Launcher.Console()
		if !ok {
			delay = cfg.Poll
			continue
		}
		start := time.Now()
		err := runOnce(ctx, cfg, sess, log)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, ErrNoUser):
			delay = cfg.Poll
		case errors.Is(err, errSessionChanged):
			log.Info("console session changed: restarting the helper", "session", sess)
			delay = 0
		default:
			delay = nextDelay(time.Since(start), delay)
			log.Warn("helper ended", "session", sess, "err", err, "restart_in", delay)
		}
	}
}

// runOnce starts one helper for session's user and serves it until it
// ends, the console changes or ctx ends.
func runOnce(ctx context.Context, cfg SuperviseConfig, sess uint32, log *slog.Logger) error {
	u, err := cfg.Launcher.User(sess)
	if err != nil {
		return err
	}
	defer u.Close()
	pipe := cfg.PipeName()
	ln, err := cfg.Listen(pipe, u.SID())
	if err != nil {
		return fmt.Errorf("helper pipe: %w", err)
	}
	defer ln.Close()
	p, err := u.Start(cfg.Exe, HelperArgs(pipe))
	if err != nil {
		return fmt.Errorf("start helper: %w", err)
	}
	defer func() {
		_ = p.Kill()
		<-p.Done()
	}()
	log = log.With("session", sess, "helper_pid", p.PID())
	conn, err := accept(ctx, ln, p, cfg.ConnectTimeout)
	if err != nil {
		return err
	}
	sid, pid, err := cfg.Peer(conn)
	switch {
	case err != nil:
		conn.Close()
		return fmt.Errorf("helper pipe peer: %w", err)
	case sid != u.SID() || pid != p.PID():
		// The ACL admits only this user; the process id must be ours too,
		// not another program of the user's that found the name.
		conn.Close()
		return fmt.Errorf("helper pipe: connected by process %d of %s, want the helper %d of %s", pid, sid, p.PID(), u.SID())
	}
	r, err := NewRemote(conn, log)
	if err != nil {
		conn.Close()
		return err
	}
	cfg.Hub.Set(r)
	defer cfg.Hub.Set(nil)
	log.Info("helper connected")
	tick := time.NewTicker(cfg.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.Done():
			return errors.New("the helper exited")
		case <-r.Done():
			return errors.New("the helper's connection ended")
		case <-tick.C:
			if now, ok := cfg.Launcher.Console(); !ok || now != sess {
				return errSessionChanged
			}
		}
	}
}

// accept waits for the started helper to connect.
func accept(ctx context.Context, ln net.Listener, p Process, timeout time.Duration) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	var err error
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		err = ctx.Err()
	case <-p.Done():
		err = errors.New("the helper exited before connecting")
	case <-time.After(timeout):
		err = fmt.Errorf("the helper did not connect within %s", timeout)
	}
	ln.Close() // unblocks Accept
	if r := <-ch; r.c != nil {
		r.c.Close()
	}
	return nil, err
}
