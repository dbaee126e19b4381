package benchrig

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		p    float64
		want float64
	}{
		{"one value", []float64{7}, 95, 7},
		{"median of odd count", []float64{3, 1, 2}, 50, 2},
		{"median of even count interpolates", []float64{4, 1, 3, 2}, 50, 2.5},
		{"p95 of 1..21", seq(1, 21), 95, 20},
		{"p0 is the minimum", []float64{5, 9, 1}, 0, 1},
		{"p100 is the maximum", []float64{5, 9, 1}, 100, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.xs...)
			if got := percentile(tc.xs, tc.p); math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("percentile(%v, %v) = %v, want %v", tc.xs, tc.p, got, tc.want)
			}
			if diff := cmp.Diff(in, tc.xs); diff != "" {
				t.Fatalf("input reordered: %s", diff)
			}
		})
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Fatal("percentile of nothing is not NaN")
	}
	if got := median([]float64{math.NaN(), 4, 2, math.NaN()}); got != 3 {
		t.Fatalf("median skipping NaN = %v, want 3", got)
	}
}

func seq(from, to int) []float64 {
	var out []float64
	for i := from; i <= to; i++ {
		out = append(out, float64(i))
	}
	return out
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    procStat
		wantErr bool
	}{
		{"plain", "1234 (porthole-agent) S 1200 1234 1200 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 9 0 100 0 0",
			procStat{ppid: 1200, cpu: 3250 * time.Millisecond}, false},
		{"name with spaces and parens", "77 (Chrome_Child (x) y) R 70 77 70 0 -1 0 0 0 0 0 1 2 0 0",
			procStat{ppid: 70, cpu: 30 * time.Millisecond}, false},
		{"truncated", "77 (x) R 70 1 2", procStat{}, true},
		{"no name", "77 x R 70", procStat{}, true},
		{"garbage number", "77 (x) R 70 77 70 0 -1 0 0 0 0 0 zz 2 0 0", procStat{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.line))
			if tc.wantErr {
				if !errors.Is(err, ErrProc) {
					t.Fatalf("err = %v, want ErrProc", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestFirstRunPassword(t *testing.T) {
	out := "Porthole broker: portal at http://127.0.0.1:1/ (data in d)\n\nFirst run: created portal user \"admin\" with password:\n\n    s3cret-Pass_word\n\nIt is shown once; log in and keep it safe.\n"
	if got := firstRunPassword(out); got != "s3cret-Pass_word" {
		t.Fatalf("password = %q", got)
	}
	if got := firstRunPassword("First run: created portal user \"admin\" with password:\n\n"); got != "" {
		t.Fatalf("password before it is printed = %q, want empty", got)
	}
}

func TestEnrolledDeviceID(t *testing.T) {
	m := enrolledRE.FindSubmatch([]byte("Enrolled as device nuyDyISGED5cc0oS. Start the agent with: porthole-agent run --state-dir /x\n"))
	if m == nil || string(m[1]) != "nuyDyISGED5cc0oS" {
		t.Fatalf("device id: %q", m)
	}
}

func TestParseSizes(t *testing.T) {
	got, err := ParseSizes("1920x1080, 1280x720")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Size{{1920, 1080}, {1280, 720}}, got); diff != "" {
		t.Fatal(diff)
	}
	for _, bad := range []string{"", "1920", "1920x", "x1080", "-1x5", "1920x1080,"} {
		if _, err := ParseSizes(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseSizes(%q) = %v, want ErrConfig", bad, err)
		}
	}
}

func TestFindVideoStats(t *testing.T) {
	log := strings.Join([]string{
		`{"time":"t","level":"INFO","msg":"agent starting","device_id":"d"}`,
		`not json at all, from a C library`,
		`{"time":"t","level":"INFO","msg":"session video stats","component":"support","session_id":"other","frames":1,"capture_ms_avg":9,"encode_ms_avg":9,"seconds":1}`,
		`{"time":"t","level":"INFO","msg":"session video stats","component":"support","session_id":"S1","display":0,"frames":540,"keyframes":2,"bytes":280156,"capture_ms_avg":1.541,"encode_ms_avg":3.321,"seconds":19.65}`,
		`{"time":"t","level":"INFO","msg":"session over","component":"support","session_id":"S1","reason":"ended by admin (Off)"}`,
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "agent.log")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got, ok, err := findVideoStats(path, "S1")
	if err != nil || !ok {
		t.Fatalf("S1: found=%v err=%v", ok, err)
	}
	want := videoStats{SessionID: "S1", Frames: 540, Keyframes: 2, Bytes: 280156, CaptureMsAvg: 1.541, EncodeMsAvg: 3.321, Seconds: 19.65}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	if _, ok, err := findVideoStats(path, "S2"); ok || err != nil {
		t.Fatalf("S2 (not logged yet): found=%v err=%v", ok, err)
	}
	if _, ok, err := findLogRecord(path, sessionOverMsg, "S1"); !ok || err != nil {
		t.Fatalf("session over S1: found=%v err=%v", ok, err)
	}
	if _, ok, err := findLogRecord(path, sessionOverMsg, "other"); ok || err != nil {
		t.Fatalf("session over for a session still running: found=%v err=%v", ok, err)
	}
}
