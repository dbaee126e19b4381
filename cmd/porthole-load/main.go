// Command porthole-load measures one broker under many idle agents (make
// load): the real broker binary, N simulated agents enrolled through the
// real API and linked with the agent's own link code. It prints the figures
// as JSON and exits non-zero when a target is missed.
//
//	porthole-load --broker-bin bin/porthole-broker --agents 10000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"porthole/internal/loadtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "porthole-load:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg loadtest.Config
	flag.StringVar(&cfg.BrokerBin, "broker-bin", "bin/porthole-broker", "the porthole-broker binary to measure")
	flag.IntVar(&cfg.Agents, "agents", 10000, "simulated agents")
	flag.DurationVar(&cfg.Heartbeat, "heartbeat", 15*time.Second, "the broker's agent heartbeat")
	flag.DurationVar(&cfg.Steady, "steady", 0, "how long to measure CPU at steady state (default 2 heartbeats)")
	flag.DurationVar(&cfg.ReconnectLimit, "limit", 120*time.Second, "give up waiting for the agents after this long")
	restart := flag.Bool("restart", true, "measure the reconnection after a broker restart")
	maxKB := flag.Float64("max-kb-per-agent", 30, "target: broker memory per idle agent (KB of RSS)")
	maxCPU := flag.Float64("max-cpu", 5, "target: broker CPU at steady state (% of one core)")
	maxBack := flag.Duration("max-reconnect", 60*time.Second, "target: all agents back after a restart within")
	flag.Parse()
	cfg.Restart = *restart
	cfg.Out = os.Stderr
	n, err := loadtest.RaiseFileLimit()
	if err != nil {
		return fmt.Errorf("raise the open-files limit: %w", err)
	}
	if uint64(cfg.Agents)+1000 > n {
		return fmt.Errorf("the open-files limit is %d: not enough for %d agents (raise the hard limit: ulimit -Hn)", n, cfg.Agents)
	}
	dir, err := os.MkdirTemp("", "porthole-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Run(ctx, dir, cfg)
	out, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(out))
	if err != nil {
		return err
	}
	var missed []error
	if rep.RSSPerAgentKB > *maxKB {
		missed = append(missed, fmt.Errorf("%.1f KB per idle agent (target %.0f)", rep.RSSPerAgentKB, *maxKB))
	}
	if rep.CPUPercent > *maxCPU {
		missed = append(missed, fmt.Errorf("%.2f%% CPU at steady state (target %.0f%%)", rep.CPUPercent, *maxCPU))
	}
	if cfg.Restart && rep.ReconnectSeconds > maxBack.Seconds() {
		missed = append(missed, fmt.Errorf("%.1fs to reconnect (target %s)", rep.ReconnectSeconds, *maxBack))
	}
	return errors.Join(missed...)
}
