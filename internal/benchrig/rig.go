// Package benchrig measures Porthole's media path end to end, as issue #3
// asks: on an Xvfb display with the moving test pattern (internal/testpattern)
// it runs the real broker and agent binaries as separate processes, opens the
// portal's session viewer in headless Chromium and reports capture and encode
// time per frame (from the agent's log), frames per second and bytes per
// second delivered to the browser (WebRTC getStats), glass-to-glass latency
// (the painter's time stamp read back from each presented video frame), and
// the CPU use of agent, broker and Chromium from /proc; then the same at rest
// once the painter stops. With Config.Windows it measures the Windows agent
// too, the exe under Wine on the same kind of display, in the same run (its
// figures are a floor for real Windows, not a promise: Wine's GDI reads the
// X server, and Wine's own processes count as the agent's CPU).
// cmd/porthole-bench is its command line.
package benchrig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"porthole/internal/wine"
)

// Size is a screen size in pixels.
type Size struct{ W, H int }

func (s Size) String() string { return fmt.Sprintf("%dx%d", s.W, s.H) }

// ParseSizes reads a comma-separated list like "1920x1080,1280x720".
func ParseSizes(list string) ([]Size, error) {
	var out []Size
	for _, f := range strings.Split(list, ",") {
		w, h, ok := strings.Cut(strings.TrimSpace(f), "x")
		wi, err1 := strconv.Atoi(w)
		hi, err2 := strconv.Atoi(h)
		if !ok || err1 != nil || err2 != nil || wi <= 0 || hi <= 0 {
			return nil, fmt.Errorf("%w: size %q is not WIDTHxHEIGHT", ErrConfig, f)
		}
		out = append(out, Size{wi, hi})
	}
	return out, nil
}

// Config says what to measure and where the binaries are.
type Config struct {
	// BinDir holds porthole-broker, porthole-agent and porthole-testpattern
	// (make build puts them in ./bin).
	BinDir string
	// Sizes are the screens to measure, one complete stack each.
	Sizes []Size
	// Modes are the painter modes: "small" (a sliding box) and/or "full"
	// (the whole lower band scrolls).
	Modes []string
	// Rate is the painter's frames per second (default 30).
	Rate int
	// Runs is the number of sessions measured per size and mode; the report
	// gives the median of the runs (default 3).
	Runs int
	// Warmup is how long a session runs before its window (default 3 s).
	Warmup time.Duration
	// Duration is the length of each measured window (default 15 s).
	Duration time.Duration
	// Static is the length of the window at rest, measured once per size after
	// the painter stops; 0 uses the default (10 s), negative skips it.
	Static time.Duration
	// WorkDir receives each stack's data directories and logs; empty means a
	// temporary directory removed afterwards.
	WorkDir string
	// Logger receives progress (one line per run); nil discards it.
	Logger *slog.Logger
	// Record keeps session recordings on (the broker's default) so that the
	// broker's CPU includes writing them; false turns recording.enabled off.
	Record bool
	// Windows also measures the Windows agent (cmd/porthole-agent built for
	// windows/amd64 with cgo, and the Wine overlay, by wine.BuildGo from the
	// module the bench runs in) under Wine at WindowsSize, painter mode
	// small, WindowsRuns runs, after the Linux agent's sizes.
	Windows bool
	// WindowsSize defaults to 1280×720; WindowsRuns to 1.
	WindowsSize Size
	WindowsRuns int
}

// The agents a report row can be about.
const (
	agentLinux   = "linux"
	agentWindows = "windows (Wine)"
)

func (c Config) withDefaults() (Config, error) {
	if c.BinDir == "" {
		c.BinDir = "bin"
	}
	for _, b := range []string{"porthole-broker", "porthole-agent", "porthole-testpattern"} {
		if _, err := os.Stat(filepath.Join(c.BinDir, b)); err != nil {
			return c, fmt.Errorf("%w: %s not found in %s (run make build): %w", ErrConfig, b, c.BinDir, err)
		}
	}
	abs, err := filepath.Abs(c.BinDir)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c.BinDir = abs
	if len(c.Sizes) == 0 {
		c.Sizes = []Size{{1920, 1080}, {1280, 720}}
	}
	if len(c.Modes) == 0 {
		c.Modes = []string{"small"}
	}
	for _, m := range c.Modes {
		if m != "small" && m != "full" {
			return c, fmt.Errorf("%w: mode %q is neither small nor full", ErrConfig, m)
		}
	}
	if c.Rate == 0 {
		c.Rate = 30
	}
	if c.Runs == 0 {
		c.Runs = 3
	}
	if c.Warmup == 0 {
		c.Warmup = 3 * time.Second
	}
	if c.Duration == 0 {
		c.Duration = 15 * time.Second
	}
	if c.Static == 0 {
		c.Static = 10 * time.Second
	}
	if c.Rate < 1 || c.Runs < 1 || c.Warmup < 0 || c.Duration < time.Second {
		return c, fmt.Errorf("%w: rate, runs must be ≥ 1, duration ≥ 1s", ErrConfig)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Windows {
		if c.WindowsSize == (Size{}) {
			c.WindowsSize = Size{1280, 720}
		}
		if c.WindowsRuns == 0 {
			c.WindowsRuns = 1
		}
		if c.WindowsRuns < 1 || c.WindowsSize.W <= 0 || c.WindowsSize.H <= 0 {
			return c, fmt.Errorf("%w: Windows runs must be ≥ 1 and the size positive", ErrConfig)
		}
		if err := wine.Check(); err != nil {
			return c, fmt.Errorf("%w: %w (run make deps)", ErrConfig, err)
		}
	}
	return c, nil
}

// Run measures every size and mode in turn and returns the report. Every
// process it starts is stopped before it returns, also when ctx ends. On an
// error the report holds what was measured before it.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	work := cfg.WorkDir
	if work == "" {
		work, err = os.MkdirTemp("", "porthole-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	rep := &Report{Config: cfg, Started: time.Now()}
	br, err := startBrowser(ctx)
	if err != nil {
		return rep, err
	}
	defer br.close()
	keep := func(err error) error {
		if cfg.WorkDir == "" {
			err = fmt.Errorf("%w (rerun with --work-dir to keep the logs)", err)
		}
		return err
	}
	for _, size := range cfg.Sizes {
		if err := runSize(ctx, cfg, br, linuxAgent(cfg.BinDir), size, cfg.Modes, cfg.Runs, filepath.Join(work, size.String()), rep); err != nil {
			return rep, fmt.Errorf("%s: %w", size, keep(err))
		}
	}
	if cfg.Windows {
		dir := filepath.Join(work, "windows-"+cfg.WindowsSize.String())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return rep, err
		}
		cfg.Logger.Info("building the Windows agent (cgo, static libvpx, Wine overlay)")
		exe := filepath.Join(dir, "porthole-agent.exe")
		if err := wine.BuildGo(ctx, wine.BuildOptions{Pkg: "porthole/cmd/porthole-agent", Out: exe, CGO: true}); err != nil {
			return rep, fmt.Errorf("%w: build the Windows agent: %w", ErrStage, err)
		}
		err := runSize(ctx, cfg, br, windowsAgent(exe), cfg.WindowsSize, []string{"small"}, cfg.WindowsRuns, dir, rep)
		if err != nil {
			return rep, fmt.Errorf("the Windows agent at %s: %w", cfg.WindowsSize, keep(err))
		}
	}
	return rep, nil
}

func runSize(ctx context.Context, cfg Config, br *browser, ag agentKind, size Size, modes []string, nRuns int, dir string, rep *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	log := cfg.Logger.With("agent", ag.name, "size", size.String())
	log.Info("starting stack", "dir", dir)
	st, err := startStack(ctx, cfg, ag, size, dir)
	if err != nil {
		return err
	}
	defer st.close()
	if err := br.login(st.url, "admin", st.password); err != nil {
		return err
	}
	for mi, mode := range modes {
		if err := st.startPainter(ctx, mode); err != nil {
			return err
		}
		var runs []runResult
		for r := range nRuns {
			withStatic := cfg.Static > 0 && mi == len(modes)-1 && r == nRuns-1
			res, err := runOnce(ctx, cfg, st, br, withStatic)
			if err != nil {
				return fmt.Errorf("mode %s run %d: %w", mode, r+1, err)
			}
			m := res.moving.figures()
			log.Info("run", "mode", mode, "run", r+1, "fps", round1(m.fps), "p50_ms", round1(m.p50), "p95_ms", round1(m.p95),
				"kB_per_s", round1(m.bytesPerSec/1000), "agent_cpu", round1(res.moving.agentCPU), "broker_cpu", round1(res.moving.brokerCPU),
				"chromium_cpu", round1(res.moving.chromiumCPU), "chromium_cpu_no_probe", round1(res.chromiumCPUWarmup), "capture_ms", round1(res.video.CaptureMsAvg), "encode_ms", round1(res.video.EncodeMsAvg),
				"unreadable", res.moving.probe.Unreadable, "yuv_frames", res.moving.probe.YUVFrames, "presented", res.moving.probe.Presented)
			runs = append(runs, res)
			if res.static != nil {
				rep.Static = append(rep.Static, staticRow(ag.name, size, *res.static))
			}
			if res.input != nil {
				rep.Input = append(rep.Input, *res.input)
			}
		}
		rep.Rows = append(rep.Rows, summarize(ag.name, size, mode, runs))
	}
	return nil
}

// runResult is one session: its moving window, optionally its window at
// rest, and the agent's video stats for the whole session.
type runResult struct {
	// chromiumCPUWarmup is Chromium's CPU over the warm-up, before the probe.
	chromiumCPUWarmup float64
	moving            window
	static            *window
	video             videoStats
	videoFound        bool
	input             *InputRow
}

// sessionEnd is how long the agent gets to log its video stats after the
// session ends.
const sessionEnd = 10 * time.Second

func runOnce(ctx context.Context, cfg Config, st *stack, br *browser, withStatic bool) (res runResult, err error) {
	s, err := st.api.startSession(ctx, st.deviceID)
	if err != nil {
		return res, fmt.Errorf("%w: start session: %w", ErrStage, err)
	}
	ended := false
	defer func() {
		if !ended {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = st.api.endSession(cctx, s.ID)
			cancel()
		}
	}()
	if err := br.openViewer(st.url, s.ID); err != nil {
		return res, err
	}
	if err := waitLive(ctx, st, s.ID); err != nil {
		return res, fmt.Errorf("%w (%s)", err, br.describe())
	}
	if _, err := br.waitVideo(ctx, 20*time.Second); err != nil {
		return res, err
	}
	// The warm-up runs without the probe, so Chromium's CPU over it says what
	// the page costs without the probe's per-frame canvas reads.
	c0, err := br.cpu()
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return res, err
	}
	c1, err := br.cpu()
	if err != nil {
		return res, err
	}
	res.chromiumCPUWarmup = cpuPercent(c1-c0, time.Since(t0))
	if err := br.installProbe(st.size.W, st.size.H); err != nil {
		return res, err
	}
	res.moving, err = measure(ctx, st, br, cfg.Duration)
	if err != nil {
		return res, err
	}
	if len(res.moving.probe.Ages) == 0 {
		return res, fmt.Errorf("%w: no frame stamp read in %s (%d frames presented, %d unreadable, last error %q)",
			ErrStage, cfg.Duration, res.moving.probe.Presented, res.moving.probe.Unreadable, res.moving.probe.LastError)
	}
	if withStatic {
		st.stopPainter()
		if err := sleep(ctx, 2*time.Second); err != nil {
			return res, err
		}
		w, err := measure(ctx, st, br, cfg.Static)
		if err != nil {
			return res, err
		}
		res.static = &w
		in, err := measureInput(ctx, st, br, inputEvents)
		if err != nil {
			return res, err
		}
		res.input = &in
	}
	ended = true
	if err := st.api.endSession(ctx, s.ID); err != nil {
		return res, fmt.Errorf("end session: %w", err)
	}
	err = poll(ctx, sessionEnd, func() (bool, error) {
		vs, ok, err := findVideoStats(st.agentLog(), s.ID)
		res.video, res.videoFound = vs, ok
		return ok, err
	})
	if err != nil && !errors.Is(err, errTimeout) {
		return res, err
	}
	if !res.videoFound {
		st.cfg.Logger.Warn("agent logged no video stats for the session", "session", s.ID, "log", st.agentLog())
	}
	// The agent takes one session at a time: wait until it has torn this one
	// down, or the next would be declined as busy.
	err = poll(ctx, sessionEnd, func() (bool, error) {
		_, ok, err := findLogRecord(st.agentLog(), sessionOverMsg, s.ID)
		return ok, err
	})
	if errors.Is(err, errTimeout) {
		st.cfg.Logger.Warn("agent did not log the end of the session", "session", s.ID, "log", st.agentLog())
	} else if err != nil {
		return res, err
	}
	return res, nil
}

// waitLive polls the session until it is live; a session that ends or is
// declined first is an error naming the state and the reason.
func waitLive(ctx context.Context, st *stack, sid string) error {
	var last session
	err := poll(ctx, 30*time.Second, func() (bool, error) {
		s, err := st.api.session(ctx, sid)
		if err != nil {
			return false, err
		}
		last = s
		switch s.State {
		case "live":
			return true, nil
		case "declined", "ended":
			return false, fmt.Errorf("session ended first")
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("%w: session never reached live: state=%s reason=%q: %w", ErrStage, last.State, last.EndReason, err)
	}
	return nil
}

// window is one measured interval: what the page saw and the CPU each
// process used, in percent of one core.
type window struct {
	probe                            probeResult
	wall                             time.Duration
	agentCPU, brokerCPU, chromiumCPU float64
}

// measure runs one window of length d: CPU times read around the page's
// begin and end, the page's ages and receiver statistics in between.
func measure(ctx context.Context, st *stack, br *browser, d time.Duration) (window, error) {
	var w window
	a0, err1 := st.agentCPU()
	b0, err2 := st.broker.cpu()
	c0, err3 := br.cpu()
	if err := errors.Join(err1, err2, err3); err != nil {
		return w, fmt.Errorf("%w: CPU at window start: %w", ErrStage, err)
	}
	t0 := time.Now()
	if err := br.begin(); err != nil {
		return w, fmt.Errorf("%w: probe begin: %w", ErrStage, err)
	}
	if err := sleep(ctx, d); err != nil {
		return w, err
	}
	r, err := br.end()
	if err != nil {
		return w, fmt.Errorf("%w: probe end: %w", ErrStage, err)
	}
	a1, err1 := st.agentCPU()
	b1, err2 := st.broker.cpu()
	c1, err3 := br.cpu()
	w.wall = time.Since(t0)
	if err := errors.Join(err1, err2, err3); err != nil {
		return w, fmt.Errorf("%w: CPU at window end: %w", ErrStage, err)
	}
	if !r.HasStats {
		return w, fmt.Errorf("%w: the viewer's peer connection has no inbound video statistics", ErrStage)
	}
	w.probe = r
	w.agentCPU = cpuPercent(a1-a0, w.wall)
	w.brokerCPU = cpuPercent(b1-b0, w.wall)
	w.chromiumCPU = cpuPercent(c1-c0, w.wall)
	return w, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
