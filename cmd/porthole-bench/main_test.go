package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the quick mode end to end (both sizes, one 3 s run each,
// a 3 s window at rest) against freshly built binaries. It takes about a
// minute of both cores, so it runs only with PORTHOLE_BENCH_SMOKE=1.
func TestSmoke(t *testing.T) {
	if os.Getenv("PORTHOLE_BENCH_SMOKE") != "1" {
		t.Skip("set PORTHOLE_BENCH_SMOKE=1 to run the benchmark smoke test")
	}
	bin := t.TempDir()
	for _, b := range []struct{ pkg, cgo string }{
		{"porthole/cmd/porthole-broker", "0"},
		{"porthole/cmd/porthole-testpattern", "0"},
		{"porthole/cmd/porthole-agent", "1"},
	} {
		cmd := exec.Command("go", "build", "-o", bin+"/", b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", b.pkg, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, progress strings.Builder
	err := run(ctx, []string{"--bin", bin, "--duration", "3s", "--runs", "1", "--warmup", "2s", "--static", "3s"}, &out, &progress)
	t.Logf("progress:\n%s\nreport:\n%s", progress.String(), out.String())
	if err != nil {
		t.Fatal(err)
	}
	// One moving row per size with real numbers: fps, latency, capture,
	// encode, CPU and bytes all measured (no n/a), and a row at rest.
	for _, size := range []string{"1920x1080", "1280x720"} {
		row := regexp.MustCompile(`(?m)^\| linux \| ` + size + ` \| small \| (.*)\|$`).FindStringSubmatch(out.String())
		if row == nil {
			t.Fatalf("no moving row for %s", size)
		}
		if strings.Contains(row[1], "n/a") {
			t.Errorf("%s: unmeasured figures: %s", size, row[1])
		}
		fps, err := strconv.ParseFloat(strings.TrimSpace(strings.Split(row[1], "|")[0]), 64)
		if err != nil || fps < 5 {
			t.Errorf("%s: %v fps decoded (%v), want a moving picture", size, fps, err)
		}
		if !regexp.MustCompile(`(?m)^\| linux \| ` + size + ` \| [0-9.]+ \| `).MatchString(out.String()) {
			t.Errorf("no row at rest for %s", size)
		}
	}
}

// TestFlags rejects bad flags before starting anything.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--sizes", "big"},
		{"--bin", t.TempDir()},
		{"--modes", "sideways", "--bin", t.TempDir()},
		{"--no-such-flag"},
	} {
		var out, errOut strings.Builder
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
		if out.Len() != 0 {
			t.Errorf("run(%q) printed a report: %q", args, out.String())
		}
	}
}
