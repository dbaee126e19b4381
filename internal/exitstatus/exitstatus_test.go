package exitstatus

import (
	"errors"
	"fmt"
	"os/exec"
	"testing"
)

func TestOf(t *testing.T) {
	run := func(args ...string) error { return exec.Command(args[0], args[1:]...).Run() }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", run("sh", "-c", "exit 0"), 0},
		{"status", run("sh", "-c", "exit 3"), 3},
		{"wrapped status", fmt.Errorf("tool: %w", run("sh", "-c", "exit 7")), 7},
		{"killed", run("sh", "-c", "kill -KILL $$"), -1},
		{"never started", run("/nonexistent/tool"), -1},
		{"other error", errors.New("boom"), -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Of(tc.err); got != tc.want {
				t.Fatalf("Of(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}
