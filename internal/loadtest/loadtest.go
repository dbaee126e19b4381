// Package loadtest measures one broker under many idle agents: it runs the
// real broker binary, enrolls N simulated agents through the real
// enrollment API with their own Ed25519 keys, and links each with the
// agent's own control link (agent/link: challenge signing, heartbeats,
// jittered reconnect backoff), so nothing of the protocol is re-implemented
// here. It reports the broker's memory per idle agent, its CPU at steady
// state, and how long all agents take to come back after a broker restart,
// with the handshakes per second to show whether they stampede.
//
// The broker's own count of authenticated agents (porthole_agents_online on
// its metrics listener) decides when agents are "online": an agent whose
// handshake fails is never counted.
package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"porthole/agent/link"
	"porthole/broker/metrics"
	"porthole/internal/wire"
)

// Config says what to run.
type Config struct {
	BrokerBin string        // the porthole-broker binary
	Agents    int           // simulated agents
	Heartbeat time.Duration // the broker's --heartbeat
	// Steady is how long CPU is measured once every agent is online
	// (default 150s: longer than the Go runtime's forced GC period of two
	// minutes, so the memory read at its end is the idle broker's, not
	// the garbage the connects left).
	Steady time.Duration
	// Restart measures the reconnection after a broker restart.
	Restart bool
	// ReconnectLimit bounds the wait for all agents after the restart
	// (default 120s) and for the first connect.
	ReconnectLimit time.Duration
	// Concurrency bounds parallel enrollments (default 16).
	Concurrency int
	Logger      *slog.Logger
	// Out receives progress lines (default io.Discard).
	Out io.Writer
}

// Report is what was measured.
type Report struct {
	Agents         int     `json:"agents"`
	EnrollSeconds  float64 `json:"enroll_seconds"`
	ConnectSeconds float64 `json:"connect_seconds"`  // from start of links to all online
	BaseRSSKB      int64   `json:"base_rss_kb"`      // broker before any agent linked
	LoadedRSSKB    int64   `json:"loaded_rss_kb"`    // with every agent idle and linked
	RSSPerAgentKB  float64 `json:"rss_per_agent_kb"` // at the end of the steady window
	// RSSPerAgentAtStartKB is the same at its start, garbage included.
	RSSPerAgentAtStartKB float64 `json:"rss_per_agent_at_start_kb"`
	HeapPerAgentKB       float64 `json:"heap_per_agent_kb"` // Go heap in use, from the broker's metrics
	Goroutines           float64 `json:"goroutines"`
	// SettleSeconds is how long the broker stayed busy after the last
	// agent was online (the work each connect sets off).
	SettleSeconds    float64 `json:"settle_seconds"`
	SteadySeconds    float64 `json:"steady_seconds"`
	CPUPercent       float64 `json:"cpu_percent"` // of one core, over SteadySeconds
	ReconnectSeconds float64 `json:"reconnect_seconds,omitempty"`
	// PeakHandshakesPerSecond is the most agent handshakes in one second
	// after the restart; HandshakesPerSecond the whole curve.
	PeakHandshakesPerSecond int   `json:"peak_handshakes_per_second,omitempty"`
	HandshakesPerSecond     []int `json:"handshakes_per_second,omitempty"`
}

// RaiseFileLimit lifts the soft limit on open files to the hard one: each
// agent is a socket on both sides. The broker started afterwards inherits
// it.
func RaiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	return l.Cur, nil
}

// brokerProc is the broker under test.
type brokerProc struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	url     string
	metrics string
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startBroker(bin, dir, addr, maddr string, beat time.Duration, log io.Writer) (*brokerProc, error) {
	cmd := exec.Command(bin, "serve", "--listen", addr, "--data-dir", dir, "--heartbeat", beat.String(),
		"--metrics-listen", maddr, "--initial-password-file", filepath.Join(dir, "initial-password"), "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &brokerProc{cmd: cmd, exited: make(chan struct{}), url: "http://" + addr, metrics: "http://" + maddr}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if res, err := http.Get(p.metrics + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p, nil
			}
		}
		select {
		case <-p.exited:
			return nil, errors.New("the broker exited at start")
		default:
		}
		if time.Now().After(deadline) {
			p.stop(syscall.SIGKILL)
			return nil, errors.New("the broker did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *brokerProc) stop(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// procStat reads the broker's RSS (KB) and CPU ticks (user+system).
func (p *brokerProc) procStat() (rssKB int64, ticks int64, err error) {
	pid := strconv.Itoa(p.cmd.Process.Pid)
	st, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			rssKB, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command name (which may hold spaces): state is 3,
	// utime 14, stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	return rssKB, ut + stt, nil
}

// quiet waits until the broker used under 10% of a core in two 3-second
// windows in a row, or limit passes (then it goes on: the steady
// measurement tells).
func (p *brokerProc) quiet(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	calm := 0
	for calm < 2 && time.Now().Before(deadline) {
		_, a, err := p.procStat()
		if err != nil {
			return err
		}
		time.Sleep(3 * time.Second)
		_, b, err := p.procStat()
		if err != nil {
			return err
		}
		if float64(b-a)/clockTicks/3 < 0.10 {
			calm++
		} else {
			calm = 0
		}
	}
	return nil
}

// clockTicks is USER_HZ, 100 on Linux for every architecture Go targets.
const clockTicks = 100

func (p *brokerProc) figures() (map[string]float64, error) {
	res, err := http.Get(p.metrics + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return metrics.ParseText(bytes.NewReader(b))
}

func (p *brokerProc) online() (int, error) {
	m, err := p.figures()
	if err != nil {
		return 0, err
	}
	return int(m["porthole_agents_online"]), nil
}

// client is an admin's API session on the broker.
type client struct {
	base string
	http *http.Client
}

func login(base, password string) (*client, error) {
	jar, _ := cookiejar.New(nil)
	c := &client{base: base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var out struct{}
	if err := c.do("POST", "/api/login", map[string]string{"username": "admin", "password": password}, &out); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return c, nil
}

func (c *client) do(method, path string, body, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s %s", method, path, res.Status, data)
	}
	return json.Unmarshal(data, out)
}

// password reads the first-run admin password from the broker's file.
func password(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "initial-password"))
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "    ") && strings.TrimSpace(l) != "" {
			return strings.TrimSpace(l), nil
		}
	}
	return "", errors.New("no password in the first-run file")
}

// agent is one simulated endpoint.
type agent struct {
	id  string
	key ed25519.PrivateKey
}

// handshakes counts agent handshakes per second since a start time: the
// link asks for the inventory once per connection, after the challenge.
type handshakes struct {
	mu    sync.Mutex
	start time.Time
	per   []int
}

func (h *handshakes) reset(now time.Time) {
	h.mu.Lock()
	h.start, h.per = now, nil
	h.mu.Unlock()
}

func (h *handshakes) add(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := int(now.Sub(h.start) / time.Second)
	if i < 0 {
		return
	}
	for len(h.per) <= i {
		h.per = append(h.per, 0)
	}
	h.per[i]++
}

func (h *handshakes) curve() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.per...)
}

// waitOnline polls the broker until n agents are online or limit passes.
func waitOnline(p *brokerProc, n int, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	last := -1
	for {
		got, err := p.online()
		if err == nil && got >= n {
			return time.Since(start), nil
		}
		if err == nil {
			last = got
		}
		if time.Since(start) > limit {
			return time.Since(start), fmt.Errorf("%d of %d agents online after %s", last, n, limit)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Run runs the whole measurement in dir (a fresh directory).
func Run(ctx context.Context, dir string, cfg Config) (Report, error) {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.Steady == 0 {
		cfg.Steady = max(2*cfg.Heartbeat, 150*time.Second)
	}
	if cfg.ReconnectLimit == 0 {
		cfg.ReconnectLimit = 120 * time.Second
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 16
	}
	rep := Report{Agents: cfg.Agents}
	addr, err := freeAddr()
	if err != nil {
		return rep, err
	}
	maddr, err := freeAddr()
	if err != nil {
		return rep, err
	}
	data := filepath.Join(dir, "broker")
	logf, err := os.Create(filepath.Join(dir, "broker.log"))
	if err != nil {
		return rep, err
	}
	defer logf.Close()
	b, err := startBroker(cfg.BrokerBin, data, addr, maddr, cfg.Heartbeat, logf)
	if err != nil {
		return rep, err
	}
	defer func() { b.stop(syscall.SIGTERM) }()
	pw, err := password(data)
	if err != nil {
		return rep, err
	}
	admin, err := login(b.url, pw)
	if err != nil {
		return rep, err
	}
	var tok struct{ Token string }
	if err := admin.do("POST", "/api/enroll-tokens", map[string]any{"max_uses": cfg.Agents, "expires_in_seconds": 3600}, &tok); err != nil {
		return rep, err
	}

	// Enrollment: the real API, a fresh Ed25519 key per agent.
	fmt.Fprintf(cfg.Out, "enrolling %d agents…\n", cfg.Agents)
	agents := make([]agent, cfg.Agents)
	hc := &http.Client{Timeout: 60 * time.Second}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Concurrency)
	for range cfg.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Agents || ctx.Err() != nil {
					return
				}
				pub, key, err := ed25519.GenerateKey(rand.Reader)
				if err != nil {
					errs <- err
					return
				}
				inv := wire.Inventory{Hostname: fmt.Sprintf("load-%05d", i), OS: "linux", Arch: "amd64"}
				res, err := link.Enroll(ctx, hc, b.url, tok.Token, pub, inv)
				if err != nil {
					errs <- fmt.Errorf("enroll agent %d: %w", i, err)
					return
				}
				agents[i] = agent{id: res.DeviceID, key: key}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return rep, err
	}
	rep.EnrollSeconds = time.Since(start).Seconds()
	fmt.Fprintf(cfg.Out, "enrolled in %.1fs\n", rep.EnrollSeconds)

	// The broker at rest, before any link.
	runtimeSettle()
	if rep.BaseRSSKB, _, err = b.procStat(); err != nil {
		return rep, err
	}
	base, err := b.figures()
	if err != nil {
		return rep, err
	}

	// Links: the agent's own code, one per simulated agent.
	hs := &handshakes{}
	hs.reset(time.Now())
	lctx, stopLinks := context.WithCancel(ctx)
	var lwg sync.WaitGroup
	defer func() { stopLinks(); lwg.Wait() }()
	start = time.Now()
	for i, a := range agents {
		l := link.New(link.Config{BrokerURL: b.url, DeviceID: a.id, Key: a.key, Version: "load",
			Inventory: func(context.Context) wire.Inventory {
				hs.add(time.Now())
				return wire.Inventory{Hostname: fmt.Sprintf("load-%05d", i), OS: "linux", Arch: "amd64"}
			}, Logger: cfg.Logger})
		lwg.Go(func() { _ = l.Run(lctx) })
		// A fleet does not boot in the same millisecond: spread the first
		// connects over about a second per thousand agents.
		if i%100 == 99 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if _, err := waitOnline(b, cfg.Agents, cfg.ReconnectLimit); err != nil {
		return rep, fmt.Errorf("first connect: %w", err)
	}
	rep.ConnectSeconds = time.Since(start).Seconds()
	fmt.Fprintf(cfg.Out, "all %d online in %.1fs\n", cfg.Agents, rep.ConnectSeconds)

	// Steady state: every agent idle, heartbeating, once the broker has
	// finished what the connects set off (settings pushed to each agent…).
	settle := time.Now()
	if err := b.quiet(90 * time.Second); err != nil {
		return rep, err
	}
	rep.SettleSeconds = time.Since(settle).Seconds()
	rss0, t0, err := b.procStat()
	if err != nil {
		return rep, err
	}
	w0 := time.Now()
	time.Sleep(cfg.Steady)
	rss, t1, err := b.procStat()
	if err != nil {
		return rep, err
	}
	rep.SteadySeconds = time.Since(w0).Seconds()
	rep.CPUPercent = float64(t1-t0) / clockTicks / rep.SteadySeconds * 100
	rep.LoadedRSSKB = rss
	rep.RSSPerAgentKB = float64(rss-rep.BaseRSSKB) / float64(cfg.Agents)
	rep.RSSPerAgentAtStartKB = float64(rss0-rep.BaseRSSKB) / float64(cfg.Agents)
	loaded, err := b.figures()
	if err != nil {
		return rep, err
	}
	rep.HeapPerAgentKB = (loaded["go_memstats_heap_inuse_bytes"] - base["go_memstats_heap_inuse_bytes"]) / 1024 / float64(cfg.Agents)
	rep.Goroutines = loaded["go_goroutines"]
	if online := loaded["porthole_agents_online"]; int(online) != cfg.Agents {
		return rep, fmt.Errorf("%v of %d agents online at steady state", online, cfg.Agents)
	}
	fmt.Fprintf(cfg.Out, "steady: %.1f KB RSS per agent (%.1f KB at the start), %.1f KB heap, %.2f%% CPU\n", rep.RSSPerAgentKB,
		rep.RSSPerAgentAtStartKB, rep.HeapPerAgentKB, rep.CPUPercent)

	if cfg.Restart {
		fmt.Fprintln(cfg.Out, "restarting the broker…")
		b.stop(syscall.SIGTERM)
		hs.reset(time.Now())
		start := time.Now()
		b, err = startBroker(cfg.BrokerBin, data, addr, maddr, cfg.Heartbeat, logf)
		if err != nil {
			return rep, fmt.Errorf("restart: %w", err)
		}
		if _, err := waitOnline(b, cfg.Agents, cfg.ReconnectLimit); err != nil {
			return rep, fmt.Errorf("after restart: %w", err)
		}
		rep.ReconnectSeconds = time.Since(start).Seconds()
		rep.HandshakesPerSecond = hs.curve()
		for _, n := range rep.HandshakesPerSecond {
			rep.PeakHandshakesPerSecond = max(rep.PeakHandshakesPerSecond, n)
		}
		fmt.Fprintf(cfg.Out, "all back in %.1fs (peak %d handshakes/s)\n", rep.ReconnectSeconds, rep.PeakHandshakesPerSecond)
	}
	return rep, nil
}

// runtimeSettle gives the broker a moment to finish what enrollment set
// off before its memory is read.
func runtimeSettle() { time.Sleep(2 * time.Second) }
