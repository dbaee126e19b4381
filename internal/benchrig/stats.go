package benchrig

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
)

// percentile returns the p-th percentile (0..100) of xs by linear
// interpolation between closest ranks; NaN for no values.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	r := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(r))
	hi := int(math.Ceil(r))
	return s[lo] + (s[hi]-s[lo])*(r-float64(lo))
}

// median of the values that are not NaN; NaN when there are none.
func median(xs []float64) float64 {
	var ok []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			ok = append(ok, x)
		}
	}
	return percentile(ok, 50)
}

// ratio is a/b, NaN when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// videoStats is the agent's "session video stats" log record, written when
// a session's video loop ends.
type videoStats struct {
	SessionID    string  `json:"session_id"`
	Frames       float64 `json:"frames"`
	Keyframes    float64 `json:"keyframes"`
	Bytes        float64 `json:"bytes"`
	CaptureMsAvg float64 `json:"capture_ms_avg"`
	EncodeMsAvg  float64 `json:"encode_ms_avg"`
	Seconds      float64 `json:"seconds"`
}

// videoStatsMsg is the record's slog message.
const videoStatsMsg = "session video stats"

// sessionOverMsg is the agent's slog message once a session is torn down
// and the endpoint can take the next one.
const sessionOverMsg = "session over"

// findVideoStats scans the agent's JSON log for the video stats record of
// session sid. found is false while the record has not been written yet.
func findVideoStats(path, sid string) (vs videoStats, found bool, err error) {
	line, found, err := findLogRecord(path, videoStatsMsg, sid)
	if err != nil || !found {
		return vs, found, err
	}
	if err := json.Unmarshal(line, &vs); err != nil {
		return vs, false, fmt.Errorf("agent log line %q: %w", line, err)
	}
	return vs, true, nil
}

// findLogRecord returns the first JSON log line with message msg and
// session_id sid. Lines that are not JSON (a C library's output) are skipped.
func findLogRecord(path, msg, sid string) (line []byte, found bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		b := sc.Bytes()
		if !strings.Contains(string(b), msg) {
			continue
		}
		var rec struct {
			Msg       string `json:"msg"`
			SessionID string `json:"session_id"`
		}
		if json.Unmarshal(b, &rec) != nil {
			continue
		}
		if rec.Msg == msg && rec.SessionID == sid {
			return append([]byte(nil), b...), true, nil
		}
	}
	return nil, false, sc.Err()
}
