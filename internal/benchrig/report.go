package benchrig

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"
)

// Report is the outcome of Run: one Row per size and painter mode (medians
// of the runs) and one StaticRow per size.
type Report struct {
	Config  Config
	Started time.Time
	Rows    []Row
	Static  []StaticRow
	Input   []InputRow
}

// Row holds the figures for one size and mode, each the median of the runs.
// Times are milliseconds, CPU is percent of one core, NaN means not measured.
type Row struct {
	Agent string // "linux", "windows (Wine)"
	Size  Size
	Mode  string
	Runs  int
	// FPS is frames decoded per second in the browser (getStats framesDecoded).
	FPS float64
	// P50 and P95 are glass-to-glass latency: presentation time in the page
	// minus the painter's stamp read from the frame.
	P50, P95 float64
	// Samples is the number of frames whose stamp was read, over all runs;
	// Unreadable the number presented whose stamp could not be read.
	Samples, Unreadable int
	// CaptureMs and EncodeMs are the agent's own averages per frame
	// (capture_ms_avg, encode_ms_avg of its "session video stats" record).
	CaptureMs, EncodeMs float64
	// DecodeMs is Chromium's decode time per frame (totalDecodeTime);
	// JitterMs its jitter-buffer delay per frame (jitterBufferDelay).
	DecodeMs, JitterMs float64
	// BytesPerSec is bytesReceived per second at the browser.
	BytesPerSec float64
	// FramesDropped is getStats framesDropped per second.
	DroppedPerSec                    float64
	AgentCPU, BrokerCPU, ChromiumCPU float64
	// ChromiumCPUNoProbe is Chromium's CPU over the warm-up, before the
	// probe reads frames: the page's cost without the measurement's.
	ChromiumCPUNoProbe float64
}

// StaticRow is one window at rest (painter stopped) for a size.
type StaticRow struct {
	Agent                            string
	Size                             Size
	FPS, BytesPerSec                 float64
	AgentCPU, BrokerCPU, ChromiumCPU float64
}

// figures are the per-window numbers derived from the page's result.
type figures struct {
	fps, p50, p95, bytesPerSec, decodeMs, jitterMs, droppedPerSec float64
}

func (w window) figures() figures {
	p := w.probe
	secs := p.StatsSeconds
	if secs <= 0 {
		secs = p.Seconds
	}
	return figures{
		fps:           ratio(p.FramesDecoded, secs),
		p50:           percentile(p.Ages, 50),
		p95:           percentile(p.Ages, 95),
		bytesPerSec:   ratio(p.BytesReceived, secs),
		decodeMs:      1000 * ratio(p.TotalDecodeTime, p.FramesDecoded),
		jitterMs:      1000 * ratio(p.JitterBufferDelay, p.JitterBufferEmitted),
		droppedPerSec: ratio(p.FramesDropped, secs),
	}
}

// summarize takes the median of each figure over the runs.
func summarize(agent string, size Size, mode string, runs []runResult) Row {
	row := Row{Agent: agent, Size: size, Mode: mode, Runs: len(runs)}
	col := func(f func(runResult) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	fig := func(f func(figures) float64) float64 {
		return col(func(r runResult) float64 { return f(r.moving.figures()) })
	}
	video := func(f func(videoStats) float64) float64 {
		return col(func(r runResult) float64 {
			if !r.videoFound {
				return math.NaN()
			}
			return f(r.video)
		})
	}
	row.FPS = fig(func(f figures) float64 { return f.fps })
	row.P50 = fig(func(f figures) float64 { return f.p50 })
	row.P95 = fig(func(f figures) float64 { return f.p95 })
	row.BytesPerSec = fig(func(f figures) float64 { return f.bytesPerSec })
	row.DecodeMs = fig(func(f figures) float64 { return f.decodeMs })
	row.JitterMs = fig(func(f figures) float64 { return f.jitterMs })
	row.DroppedPerSec = fig(func(f figures) float64 { return f.droppedPerSec })
	row.CaptureMs = video(func(v videoStats) float64 { return v.CaptureMsAvg })
	row.EncodeMs = video(func(v videoStats) float64 { return v.EncodeMsAvg })
	row.AgentCPU = col(func(r runResult) float64 { return r.moving.agentCPU })
	row.BrokerCPU = col(func(r runResult) float64 { return r.moving.brokerCPU })
	row.ChromiumCPU = col(func(r runResult) float64 { return r.moving.chromiumCPU })
	row.ChromiumCPUNoProbe = col(func(r runResult) float64 { return r.chromiumCPUWarmup })
	for _, r := range runs {
		row.Samples += len(r.moving.probe.Ages)
		row.Unreadable += r.moving.probe.Unreadable
	}
	return row
}

func staticRow(agent string, size Size, w window) StaticRow {
	f := w.figures()
	return StaticRow{Agent: agent, Size: size, FPS: f.fps, BytesPerSec: f.bytesPerSec,
		AgentCPU: w.agentCPU, BrokerCPU: w.brokerCPU, ChromiumCPU: w.chromiumCPU}
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// num formats x with prec decimals, "n/a" for NaN.
func num(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

// WriteMarkdown prints the report as markdown tables with a short legend.
func (r *Report) WriteMarkdown(w io.Writer) error {
	c := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "## Porthole media path (make bench)\n\n")
	fmt.Fprintf(&b, "%s, %d CPUs, painter %d fps, %d run(s) × %s after %s warm-up, medians of the runs; CPU: one core = 100 %%.\n\n",
		r.Started.Format("2006-01-02 15:04"), runtime.NumCPU(), c.Rate, c.Runs, c.Duration, c.Warmup)
	b.WriteString("| agent | size | pattern | fps decoded | glass-to-glass p50 / p95 ms | capture ms/frame | encode ms/frame | decode ms/frame | jitter buffer ms/frame | agent CPU % | broker CPU % | agent+broker CPU % | Chromium CPU % (without probe) | KB/s to browser | dropped/s | stamps read / unreadable |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s | %s | %d / %d |\n",
			x.Agent, x.Size, x.Mode, num(x.FPS, 1), num(x.P50, 0), num(x.P95, 0), num(x.CaptureMs, 2), num(x.EncodeMs, 2),
			num(x.DecodeMs, 2), num(x.JitterMs, 1), num(x.AgentCPU, 1), num(x.BrokerCPU, 1), num(x.AgentCPU+x.BrokerCPU, 1),
			num(x.ChromiumCPU, 1), num(x.ChromiumCPUNoProbe, 1), num(x.BytesPerSec/1000, 1), num(x.DroppedPerSec, 2), x.Samples, x.Unreadable)
	}
	if len(r.Static) > 0 {
		fmt.Fprintf(&b, "\nAt rest (painter stopped, %s window after 2 s):\n\n", c.Static)
		b.WriteString("| agent | size | KB/s to browser | fps decoded | agent CPU % | broker CPU % | agent+broker CPU % | Chromium CPU % |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|\n")
		for _, x := range r.Static {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", x.Agent, x.Size, num(x.BytesPerSec/1000, 2), num(x.FPS, 1),
				num(x.AgentCPU, 1), num(x.BrokerCPU, 1), num(x.AgentCPU+x.BrokerCPU, 1), num(x.ChromiumCPU, 1))
		}
	}
	if len(r.Input) > 0 {
		b.WriteString("\nInput latency (pointer move dispatched into the viewer page → X server reports the pointer there):\n\n")
		b.WriteString("| agent | size | moves seen | lost | p50 ms | p95 ms |\n|---|---|---|---|---|---|\n")
		for _, x := range r.Input {
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s |\n", x.Agent, x.Size, x.Events, x.Lost, num(x.P50, 2), num(x.P95, 2))
		}
	}
	b.WriteString("\nfps, KB/s (1 KB = 1000 bytes), decode and jitter buffer: the viewer's getStats inbound-rtp over the window. " +
		"Glass-to-glass: Date.now() in requestVideoFrameCallback minus the painter's stamp read from the frame. " +
		"Capture/encode: the agent's \"session video stats\" log record (whole session). " +
		"CPU: utime+stime from /proc over the window (Chromium: all its processes, including the probe's per-frame " +
		"read of the stamp band; in brackets over the warm-up, before the probe is installed).\n")
	if c.Windows {
		fmt.Fprintf(&b, "\nwindows (Wine): the Windows agent exe under Wine 8 on the same Xvfb, %d run(s) at %s; "+
			"agent CPU is every process of its Wine prefix (the agent, wineserver, Wine's services). "+
			"These figures are a floor, not a promise for real Windows: Wine's GDI BitBlt reads the X server "+
			"(real Windows uses DXGI Desktop Duplication, which Wine lacks), and Wine adds its own work to every call.\n",
			c.WindowsRuns, c.WindowsSize)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
