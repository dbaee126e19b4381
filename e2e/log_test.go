package e2e

import (
	"log/slog"
	"os"
	"testing"
)

// testLogger shows broker and agent logs with -v when PORTHOLE_TEST_LOG is
// set, and discards them otherwise to keep CI output readable.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("PORTHOLE_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
