// Package xvfb starts private Xvfb displays for tests, benchmarks and the demo.
//
// It asks Xvfb to pick a free display number itself (-displayfd), so several
// displays (and another Xvfb already holding :99) never race for a number.
package xvfb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options sets the screen geometry. Zero values mean 1280x720x24.
type Options struct {
	Width, Height, Depth int
	// Screens adds extra screens (e.g. a second monitor) of the same size.
	Screens int
}

// Server is a running Xvfb. Close stops it.
type Server struct {
	// Display is the DISPLAY value, e.g. ":12".
	Display string
	cmd     *exec.Cmd
	once    sync.Once
	done    chan struct{}
}

// Start launches Xvfb and returns once it accepts connections.
// -noreset keeps the server alive when the last client disconnects (capture
// clients come and go); -nolisten tcp keeps it off the network.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Width == 0 {
		o.Width, o.Height = 1280, 720
	}
	if o.Depth == 0 {
		o.Depth = 24
	}
	if _, err := exec.LookPath("Xvfb"); err != nil {
		return nil, fmt.Errorf("xvfb: Xvfb not installed (run make deps): %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("xvfb: pipe: %w", err)
	}
	defer r.Close()
	geom := fmt.Sprintf("%dx%dx%d", o.Width, o.Height, o.Depth)
	args := []string{"-displayfd", "3", "-noreset", "-nolisten", "tcp", "-screen", "0", geom}
	for i := 1; i <= o.Screens; i++ {
		args = append(args, "-screen", strconv.Itoa(i), geom)
	}
	args = append(args, "+extension", "MIT-SHM", "+extension", "DAMAGE", "+extension", "XTEST")
	cmd := exec.Command("Xvfb", args...)
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("xvfb: start: %w", err)
	}
	w.Close()
	s := &Server{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()

	type result struct {
		n   string
		err error
	}
	got := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		got <- result{strings.TrimSpace(line), err}
	}()
	timeout := time.NewTimer(15 * time.Second)
	defer timeout.Stop()
	select {
	case res := <-got:
		if res.err != nil || res.n == "" {
			s.Close()
			return nil, fmt.Errorf("xvfb: no display number reported: %w", errors.Join(res.err, errors.New("xvfb exited early")))
		}
		s.Display = ":" + res.n
		return s, nil
	case <-timeout.C:
		s.Close()
		return nil, errors.New("xvfb: timed out waiting for display")
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
}

// Close stops Xvfb and waits for it to exit. It is idempotent.
func (s *Server) Close() error {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	return nil
}

// Env returns os.Environ with DISPLAY set to this server (for child processes).
func (s *Server) Env() []string {
	env := []string{"DISPLAY=" + s.Display}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "XAUTHORITY=") {
			env = append(env, kv)
		}
	}
	return env
}

// StartT starts a display for a test and stops it in t.Cleanup.
// A missing Xvfb is a test failure, not a skip: make test installs it.
func StartT(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
