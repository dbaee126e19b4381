package wine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Prefix is a fresh, private WINEPREFIX with the ProcessPrng shim
// installed. Close it: that kills its Wine processes and removes it.
type Prefix struct {
	// Dir is the WINEPREFIX.
	Dir string
	// root holds Dir and the home Wine sees; Close removes it.
	root string

	once     sync.Once
	closeErr error
}

// NewPrefix makes a fresh prefix (a clone of the cached template, ~0.5 s;
// the first on a machine makes the template, ~12 s).
func NewPrefix(ctx context.Context) (*Prefix, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	tmpl, err := template(ctx)
	if err != nil {
		return nil, err
	}
	shim, err := shimDLL(ctx)
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "porthole-wine-")
	if err != nil {
		return nil, fmt.Errorf("wine: prefix: %w", err)
	}
	p := &Prefix{Dir: filepath.Join(root, "prefix"), root: root}
	if err := p.fill(tmpl, shim); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("wine: prefix: %w", err)
	}
	if err := p.warm(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("wine: prefix: %w", err), p.Close())
	}
	return p, nil
}

// warm starts the prefix's wineserver (persistent: it stays until Close)
// and Wine's services (~2 s) with no stdio. Programs run after that start
// in ~0.2 s, and the services, which outlive them, hold none of their
// output pipes (a pipe held open would make exec.Cmd.Wait wait for it).
func (p *Prefix) warm(ctx context.Context) error {
	for _, args := range [][]string{{wineserverBin, "-p"}, {wineBin, "cmd", "/c", "exit"}} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = p.Env("")
		if err := cmd.Run(); err != nil { // stdio is /dev/null
			return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}

func (p *Prefix) fill(tmpl, shim string) error {
	if err := os.Mkdir(p.home(), 0o700); err != nil {
		return err
	}
	if err := clonePrefix(tmpl, p.Dir); err != nil {
		return err
	}
	return copyFile(shim, filepath.Join(p.Dir, "drive_c", "windows", "system32", shimName), 0o644)
}

func (p *Prefix) home() string { return filepath.Join(p.root, "home") }

// NewPrefixT makes a prefix for a test and closes it in t.Cleanup, failing
// the test if Close finds processes that outlived wineserver -k. A missing
// Wine fails the test too: make test installs it.
func NewPrefixT(t testing.TB) *Prefix {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := NewPrefix(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// Env is the environment a Wine program of this prefix runs with on
// display (":N"; empty for none): WINEPREFIX, the shim override,
// WINEDEBUG=-all, and HOME/XDG dirs inside the prefix's temp dir.
func (p *Prefix) Env(display string) []string { return env(p.Dir, p.home(), display) }

// Command returns a command that runs exe (a Linux path to a Windows .exe)
// with args under Wine on display. The wine process is the Windows process:
// its exit status is the program's, and cancelling ctx kills it. Programs it
// starts in turn are ended by Close.
func (p *Prefix) Command(ctx context.Context, display, exe string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, wineBin, append([]string{exe}, args...)...)
	cmd.Env = p.Env(display)
	// Wine's own helpers (services, explorer) may keep an output pipe open
	// after the program exits; do not wait for them forever.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Processes lists the live processes that run in this prefix (those whose
// environment names it: Wine passes WINEPREFIX to every process it starts),
// wineserver included.
func (p *Prefix) Processes() []int {
	want := []byte("WINEPREFIX=" + p.Dir + "\x00")
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil { // gone, or a zombie
			continue
		}
		if bytes.HasPrefix(b, want) || bytes.Contains(b, append([]byte{0}, want...)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Close ends every Wine process of the prefix (wineserver -k, then waits
// for them to go), and removes the prefix. Processes still there after 10 s
// are killed one by one and reported with ErrLeftover. It is idempotent.
func (p *Prefix) Close() error {
	p.once.Do(func() { p.closeErr = p.close() })
	return p.closeErr
}

func (p *Prefix) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	e := p.Env("")
	var errs []error
	if len(p.Processes()) > 0 {
		// -k fails when no server runs; the process check below is the judge.
		_ = run(ctx, e, wineserverBin, "-k")
		_ = run(ctx, e, wineserverBin, "-w")
	}
	deadline := time.Now().Add(10 * time.Second)
	left := p.Processes()
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		left = p.Processes()
	}
	if len(left) > 0 {
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		slices.Sort(left)
		errs = append(errs, fmt.Errorf("%w: killed %v in %s", ErrLeftover, left, p.Dir))
	}
	if err := os.RemoveAll(p.root); err != nil {
		errs = append(errs, fmt.Errorf("wine: remove prefix: %w", err))
	}
	return errors.Join(errs...)
}

// Process is a Windows program running under Wine for a test, its stdin
// and stdout piped to the test.
type Process struct {
	Cmd *exec.Cmd
	In  io.WriteCloser // the program's stdin
	Out *bufio.Reader  // the program's stdout

	stderr lockedBuilder
	done   chan struct{} // closed when the program has exited
	err    error         // its exit; read after done
}

// StartT starts exe with args in p on display, with pipes to its stdin and
// stdout, and ends it when the test ends: stdin is closed, and a program
// still running 10 s later is killed.
func (p *Prefix) StartT(t testing.TB, display, exe string, args ...string) *Process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr := &Process{Cmd: p.Command(ctx, display, exe, args...)}
	pr.Cmd.Stderr = &pr.stderr
	in, err1 := pr.Cmd.StdinPipe()
	out, err2 := pr.Cmd.StdoutPipe()
	if err := errors.Join(err1, err2); err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := pr.Cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s under wine: %v", exe, err)
	}
	pr.In, pr.Out, pr.done = in, bufio.NewReader(out), make(chan struct{})
	go func() { pr.err = pr.Cmd.Wait(); close(pr.done) }()
	t.Cleanup(func() {
		in.Close()
		select {
		case <-pr.done:
		case <-time.After(10 * time.Second):
			cancel()
			<-pr.done
		}
		cancel()
	})
	return pr
}

// Wait waits for the program to exit and returns how it did (exec.Cmd.Wait).
func (pr *Process) Wait() error {
	<-pr.done
	return pr.err
}

// Stderr is what the program wrote to stderr so far.
func (pr *Process) Stderr() string { return pr.stderr.String() }

// lockedBuilder is a strings.Builder safe for a writer and a reader.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
