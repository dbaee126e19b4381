package e2e

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testLogger is the log of an in-process broker or agent: with
// PORTHOLE_TEST_LOG set, every record goes to the test's output (see it
// with -v); otherwise records from info up go to a file whose tail a
// failed test prints (showLog), keeping CI output readable.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("PORTHOLE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	f, err := os.CreateTemp(t.TempDir(), "process-*.log") // TempDir first: it is removed after this cleanup
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		showLog(t, strings.TrimSuffix(filepath.Base(f.Name()), ".log"), f.Name())
	})
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// logTailLines is how much of a process log a failed test prints.
const logTailLines = 12

// showLog is for a cleanup of a test that ran a process logging to path:
// when the test failed, it keeps the whole log (in PORTHOLE_TEST_LOGDIR,
// default $TMPDIR/porthole-test-logs) and prints only its last lines above
// debug level. The failure message is printed before the cleanups run, so
// a short tail keeps it inside the end of CI's output that gets read.
func showLog(t *testing.T, name, path string) {
	if !t.Failed() {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("%s log: %v", name, err)
		return
	}
	t.Logf("%s log, last lines above debug (all of it: %s):\n%s", name, keepLog(t, name, b), logTail(string(b), logTailLines))
}

// keepLog writes b where a failed test's logs are kept (PORTHOLE_TEST_LOGDIR,
// default $TMPDIR/porthole-test-logs) and returns the file's path.
func keepLog(t *testing.T, name string, b []byte) string {
	dir := os.Getenv("PORTHOLE_TEST_LOGDIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "porthole-test-logs")
	}
	kept := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-"+name+".log")
	if err := os.MkdirAll(dir, 0o700); err != nil || os.WriteFile(kept, b, 0o600) != nil {
		return "(not kept)"
	}
	return kept
}

// brokerStacks logs where the in-process broker's goroutines are (those in
// porthole/broker code), for a test that waited on the broker in vain, and
// keeps every goroutine's stack.
func brokerStacks(t *testing.T, why string) {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var ours, rest []string // session, relay and recorder work first; idle loops after
	for _, g := range strings.Split(string(buf), "\n\n") {
		switch {
		case !strings.Contains(g, "porthole/broker/") || strings.Contains(g, "testing.tRunner"):
		case strings.Contains(g, "broker/sessions.(*Session)") || strings.Contains(g, "broker/relay.") || strings.Contains(g, "broker/recording."):
			ours = append(ours, g)
		default:
			rest = append(rest, g)
		}
	}
	ours = append(ours, rest...)
	t.Logf("%s: %d broker goroutines (all stacks: %s):\n%s", why, len(ours), keepLog(t, "stacks", buf),
		strings.Join(ours[:min(len(ours), 6)], "\n\n"))
}

// logTail returns the last n lines of log that are not at debug level.
func logTail(log string, n int) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(log, "\n"), "\n") {
		if !strings.Contains(l, "level=DEBUG") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep[max(0, len(keep)-n):], "\n")
}

func TestLogTail(t *testing.T) {
	for _, tc := range []struct {
		name, log string
		n         int
		want      string
	}{
		{"debug dropped", "a level=INFO\nb level=DEBUG\nc level=WARN\n", 5, "a level=INFO\nc level=WARN"},
		{"last n", "1\n2\n3\n4\n", 2, "3\n4"},
		{"empty", "", 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := logTail(tc.log, tc.n); got != tc.want {
				t.Fatalf("logTail = %q, want %q", got, tc.want)
			}
		})
	}
}
