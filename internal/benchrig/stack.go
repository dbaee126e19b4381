package benchrig

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"porthole/internal/wine"
	"porthole/internal/xvfb"
)

// stopGrace is how long a child gets to exit after SIGTERM before it is killed.
const stopGrace = 5 * time.Second

// agentKind is how a stack runs its agent: the Linux binary, or the
// Windows exe under Wine (in a fresh prefix of its own).
type agentKind struct {
	name string // agentLinux, agentWindows
	bin  string // the binary, or the exe
	wine bool
}

func linuxAgent(binDir string) agentKind {
	return agentKind{name: agentLinux, bin: filepath.Join(binDir, "porthole-agent")}
}

func windowsAgent(exe string) agentKind { return agentKind{name: agentWindows, bin: exe, wine: true} }

// stack is one complete Porthole on one virtual display: Xvfb, the test
// pattern painter, the broker and an enrolled, online agent, each a separate
// process. close stops everything it started.
type stack struct {
	cfg       Config
	agentKind agentKind
	prefix    *wine.Prefix // the Windows agent's Wine prefix; nil for Linux
	size      Size
	dir       string
	x         *xvfb.Server
	broker    *proc
	agent     *proc
	painter   *proc // nil while stopped
	url       string
	password  string
	api       *apiClient
	deviceID  string
}

// startStack brings the stack up stage by stage; a stage that does not come
// up is an ErrStage error naming it, and what was started is stopped again.
func startStack(ctx context.Context, cfg Config, ag agentKind, size Size, dir string) (_ *stack, err error) {
	s := &stack{cfg: cfg, agentKind: ag, size: size, dir: dir}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	s.x, err = xvfb.Start(ctx, xvfb.Options{Width: size.W, Height: size.H})
	if err != nil {
		return nil, fmt.Errorf("%w: Xvfb %s: %w", ErrStage, size, err)
	}
	if err := s.startBroker(ctx); err != nil {
		return nil, err
	}
	s.api = newAPIClient(s.url)
	if err := s.api.login(ctx, "admin", s.password); err != nil {
		return nil, fmt.Errorf("%w: admin login: %w", ErrStage, err)
	}
	// Unattended consent: no dialog on the agent side, so nobody has to click.
	if err := s.api.setGlobal(ctx, "remote_support.consent", "unattended"); err != nil {
		return nil, fmt.Errorf("%w: set remote_support.consent=unattended: %w", ErrStage, err)
	}
	if err := s.api.setGlobal(ctx, "recording.enabled", strconv.FormatBool(cfg.Record)); err != nil {
		return nil, fmt.Errorf("%w: set recording.enabled: %w", ErrStage, err)
	}
	if err := s.startAgent(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects a child's stdout while it runs.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// firstRunPassword finds the admin password the broker prints on its first
// run: the first non-empty line after the one ending in "password:".
func firstRunPassword(out string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	seen := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasSuffix(line, "password:"):
			seen = true
		case seen && line != "":
			return line
		}
	}
	return ""
}

func (s *stack) startBroker(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("%w: free port: %w", ErrStage, err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.url = "http://" + addr
	var out lockedBuffer
	s.broker, err = startProc(s.dir, "broker", filepath.Join(s.cfg.BinDir, "porthole-broker"),
		[]string{"serve", "--listen", addr, "--data-dir", filepath.Join(s.dir, "broker"), "--log-format", "json"},
		os.Environ(), &out)
	if err != nil {
		return fmt.Errorf("%w: broker: %w", ErrStage, err)
	}
	err = poll(ctx, 20*time.Second, func() (bool, error) {
		if ok, err := s.broker.exited(); ok {
			return false, fmt.Errorf("broker exited: %v (see %s)", err, filepath.Join(s.dir, "broker.log"))
		}
		s.password = firstRunPassword(out.String())
		if s.password == "" {
			return false, nil
		}
		res, err := http.Get(s.url + "/healthz")
		if err != nil {
			return false, nil
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("%w: broker never became healthy at %s: %w", ErrStage, s.url, err)
	}
	return nil
}

var enrolledRE = regexp.MustCompile(`device (\S+?)\.? `)

func (s *stack) startAgent(ctx context.Context) error {
	tok, err := s.api.enrollToken(ctx)
	if err != nil {
		return fmt.Errorf("%w: enrollment token: %w", ErrStage, err)
	}
	state := filepath.Join(s.dir, "agent")
	ectx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	enroll := []string{"enroll", "--broker", s.url, "--token", tok, "--state-dir", state}
	run := []string{"run", "--state-dir", state, "--log-format", "json", "--unattended", "allow"}
	var cmd *exec.Cmd
	bin, env := s.agentKind.bin, s.x.Env()
	if s.agentKind.wine {
		if s.prefix, err = wine.NewPrefix(ctx); err != nil {
			return fmt.Errorf("%w: Wine prefix: %w", ErrStage, err)
		}
		enroll[len(enroll)-1] = wine.WinPath(state)
		run = []string{s.agentKind.bin, "run", "--state-dir", wine.WinPath(state), "--log-format", "json", "--unattended", "allow", "--elevation=false"}
		cmd = s.prefix.Command(ectx, s.x.Display, s.agentKind.bin, enroll...)
		bin, env = "wine", s.prefix.Env(s.x.Display)
	} else {
		cmd = exec.CommandContext(ectx, bin, enroll...)
		cmd.Env = env
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: agent enroll: %w: %s", ErrStage, err, strings.TrimSpace(string(out)))
	}
	m := enrolledRE.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("%w: agent enroll printed no device id: %q", ErrStage, out)
	}
	s.deviceID = string(m[1])
	s.agent, err = startProc(s.dir, "agent", bin, run, env, nil)
	if err != nil {
		return fmt.Errorf("%w: agent: %w", ErrStage, err)
	}
	err = poll(ctx, time.Minute, func() (bool, error) {
		if ok, err := s.agent.exited(); ok {
			return false, fmt.Errorf("agent exited: %v (see %s)", err, s.agentLog())
		}
		d, err := s.api.device(ctx, s.deviceID)
		return err == nil && d.Online, nil
	})
	if err != nil {
		return fmt.Errorf("%w: agent never came online: %w", ErrStage, err)
	}
	return nil
}

// agentCPU is the CPU time the agent has used so far. Under Wine that is
// every process of its prefix: the agent, wineserver (which does much of
// the work of each Win32 call) and Wine's services.
func (s *stack) agentCPU() (time.Duration, error) {
	if s.prefix == nil {
		return s.agent.cpu()
	}
	if ok, err := s.agent.exited(); ok {
		return 0, fmt.Errorf("agent exited: %v", err)
	}
	var sum time.Duration
	for _, pid := range s.prefix.Processes() {
		if st, err := readProcStat(pid); err == nil { // gone meanwhile: skip
			sum += st.cpu
		}
	}
	return sum, nil
}

// agentLog is the agent's stderr: JSON log lines.
func (s *stack) agentLog() string { return filepath.Join(s.dir, "agent.log") }

// startPainter paints the moving test pattern in mode ("small" or "full").
func (s *stack) startPainter(ctx context.Context, mode string) error {
	s.stopPainter()
	p, err := startProc(s.dir, "painter-"+mode, filepath.Join(s.cfg.BinDir, "porthole-testpattern"),
		[]string{"--display", s.x.Display, "--rate", fmt.Sprint(s.cfg.Rate), "--mode", mode}, s.x.Env(), nil)
	if err != nil {
		return fmt.Errorf("%w: painter: %w", ErrStage, err)
	}
	s.painter = p
	// A painter that cannot open the display exits at once; give it a moment.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return fmt.Errorf("%w: painter exited: %v (see %s)", ErrStage, p.err, filepath.Join(s.dir, "painter-"+mode+".log"))
	case <-time.After(300 * time.Millisecond):
	}
	return nil
}

// stopPainter ends the painter with SIGTERM; the screen then stays still.
func (s *stack) stopPainter() {
	if s.painter != nil {
		s.painter.stop(stopGrace)
		s.painter = nil
	}
}

// close stops every process the stack started, agent first (so it does not
// log reconnect attempts), then the broker, the painter and Xvfb.
func (s *stack) close() {
	for _, p := range []*proc{s.agent, s.broker} {
		if p != nil {
			p.stop(stopGrace)
		}
	}
	if s.prefix != nil {
		if err := s.prefix.Close(); err != nil {
			s.cfg.Logger.Warn("Wine prefix", "err", err)
		}
	}
	s.stopPainter()
	if s.x != nil {
		s.x.Close()
	}
}

// errTimeout is what poll wraps when the deadline passes.
var errTimeout = errors.New("timed out")

// poll calls cond every 100 ms until it reports true, returns an error, the
// timeout passes or ctx ends.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s", errTimeout, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
