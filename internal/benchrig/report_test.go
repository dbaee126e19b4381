package benchrig

import (
	"math"
	"strings"
	"testing"
	"time"
)

// run builds a runResult: a 10 s window with the given ages, frames and CPU.
func run(ages []float64, frames, bytes float64, agentCPU float64, capture float64, logged bool) runResult {
	return runResult{
		moving: window{
			probe: probeResult{Seconds: 10, StatsSeconds: 10, Ages: ages, HasStats: true, FramesDecoded: frames,
				BytesReceived: bytes, TotalDecodeTime: frames * 0.002, JitterBufferDelay: frames * 0.001, JitterBufferEmitted: frames},
			agentCPU: agentCPU, brokerCPU: 2, chromiumCPU: 50,
		},
		chromiumCPUWarmup: 40 + agentCPU,
		video:             videoStats{CaptureMsAvg: capture, EncodeMsAvg: 2 * capture},
		videoFound:        logged,
	}
}

func TestSummarizeTakesMediansOfRuns(t *testing.T) {
	row := summarize(agentLinux, Size{1280, 720}, "small", []runResult{
		run(seq(1, 101), 290, 100_000, 10, 1, true),
		run(seq(11, 111), 300, 300_000, 30, 3, true),
		run(seq(21, 121), 280, 200_000, 20, 0, false), // no stats line: not counted
	})
	checks := []struct {
		name      string
		got, want float64
	}{
		{"fps", row.FPS, 29},
		{"p50", row.P50, 61},
		{"p95", row.P95, 106},
		{"bytes/s", row.BytesPerSec, 20_000},
		{"decode ms", row.DecodeMs, 2},
		{"jitter ms", row.JitterMs, 1},
		{"agent cpu", row.AgentCPU, 20},
		{"chromium cpu without probe", row.ChromiumCPUNoProbe, 60},
		{"capture ms (median of the two logged)", row.CaptureMs, 2},
		{"encode ms", row.EncodeMs, 4},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if row.Samples != 303 || row.Runs != 3 || row.Agent != agentLinux {
		t.Errorf("samples %d runs %d, want 303 and 3", row.Samples, row.Runs)
	}
}

func TestWriteMarkdown(t *testing.T) {
	rep := &Report{
		Config: Config{Rate: 30, Runs: 3, Duration: 15 * time.Second, Warmup: 3 * time.Second, Static: 10 * time.Second,
			Windows: true, WindowsRuns: 1, WindowsSize: Size{1280, 720}},
		Started: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		Rows: []Row{{Agent: agentLinux, Size: Size{1920, 1080}, Mode: "small", FPS: 29.94, P50: 31.4, P95: 52.6, CaptureMs: 1.234, EncodeMs: math.NaN(),
			DecodeMs: 0.9, JitterMs: 0.2, BytesPerSec: 12345, AgentCPU: 10, BrokerCPU: 2.5, ChromiumCPU: 60, ChromiumCPUNoProbe: 45, Samples: 1300, Unreadable: 2},
			{Agent: agentWindows, Size: Size{1280, 720}, Mode: "small", FPS: 21.5, P50: 80, P95: 120, CaptureMs: 9.5, EncodeMs: 6,
				DecodeMs: 1, JitterMs: 0.5, BytesPerSec: 100000, AgentCPU: 90, BrokerCPU: 3, ChromiumCPU: 50, ChromiumCPUNoProbe: 40, Samples: 300}},
		Static: []StaticRow{{Agent: agentLinux, Size: Size{1920, 1080}, BytesPerSec: 100, AgentCPU: 0.5, BrokerCPU: 0.25}},
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| linux | 1920x1080 | small | 29.9 | 31 / 53 | 1.23 | n/a | 0.90 | 0.2 | 10.0 | 2.5 | 12.5 | 60.0 (45.0) | 12.3 | 0.00 | 1300 / 2 |",
		"| windows (Wine) | 1280x720 | small | 21.5 | 80 / 120 | 9.50 | 6.00 | 1.00 | 0.5 | 90.0 | 3.0 | 93.0 | 50.0 (40.0) | 100.0 | 0.00 | 300 / 0 |",
		"| linux | 1920x1080 | 0.10 | 0.0 | 0.5 | 0.2 | 0.8 | 0.0 |",
		"a floor, not a promise for real Windows",
		"3 run(s) × 15s after 3s warm-up",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
