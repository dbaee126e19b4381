// Command porthole-bench measures Porthole's media path end to end (issue
// #3): for each screen size it starts Xvfb with the moving test pattern, the
// broker and an enrolled agent (the binaries from make build, as separate
// processes), opens the session viewer in headless Chromium and prints a
// markdown table of capture/encode time, fps, glass-to-glass latency, CPU
// and bytes per second, moving and at rest. See internal/benchrig.
//
//	porthole-bench [--bin ./bin] [--sizes 1920x1080,1280x720] [--modes small]
//	               [--runs 3] [--duration 15s] [--warmup 3s] [--static 10s]
//	               [--windows] [--windows-runs 1]
//
// --windows also measures the Windows agent under Wine (built from the
// module in the current directory), beside the Linux agent, in one report.
//
// Quick check: porthole-bench --duration 3s --runs 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"porthole/internal/benchrig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "porthole-bench:", err)
		os.Exit(1)
	}
}

// run parses args, runs the bench and prints the report to out; progress
// goes to errOut.
func run(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("porthole-bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	bin := fs.String("bin", "bin", "directory with porthole-broker, porthole-agent and porthole-testpattern (make build)")
	sizes := fs.String("sizes", "1920x1080,1280x720", "screen sizes to measure, comma-separated")
	modes := fs.String("modes", "small", "painter modes, comma-separated: small (sliding box), full (whole band scrolls)")
	rate := fs.Int("rate", 30, "painter frames per second")
	runs := fs.Int("runs", 3, "sessions per size and mode (the report shows medians)")
	duration := fs.Duration("duration", 15*time.Second, "measured window per session")
	warmup := fs.Duration("warmup", 3*time.Second, "time a session runs before its window")
	static := fs.Duration("static", 10*time.Second, "window at rest after the painter stops, once per size (0: skip)")
	record := fs.Bool("record", false, "keep session recordings on, to measure the broker writing them")
	workDir := fs.String("work-dir", "", "keep data directories and logs here (default: a temporary directory, removed)")
	windows := fs.Bool("windows", false, "also measure the Windows agent under Wine at 1280x720 (built with cgo from the module in the current directory)")
	windowsRuns := fs.Int("windows-runs", 1, "sessions of the Windows agent (with --windows)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sz, err := benchrig.ParseSizes(*sizes)
	if err != nil {
		return err
	}
	if *static == 0 {
		*static = -1 // Config: negative skips the window at rest
	}
	cfg := benchrig.Config{
		BinDir:      *bin,
		Sizes:       sz,
		Modes:       strings.Split(*modes, ","),
		Rate:        *rate,
		Runs:        *runs,
		Warmup:      *warmup,
		Duration:    *duration,
		Static:      *static,
		WorkDir:     *workDir,
		Record:      *record,
		Windows:     *windows,
		WindowsRuns: *windowsRuns,
		Logger:      slog.New(slog.NewTextHandler(errOut, nil)),
	}
	rep, err := benchrig.Run(ctx, cfg)
	if rep != nil && (len(rep.Rows) > 0 || len(rep.Static) > 0) {
		if werr := rep.WriteMarkdown(out); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}
