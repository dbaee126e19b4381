package e2e

import (
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jezek/xgb"
)

// agentBin is the real porthole-agent binary, built once for the tests that
// need a separate process (so that killing it is a real crash). agentDir
// holds it, and the Windows agent when a test builds it (windowsAgentT).
var agentBin, agentDir string

func TestMain(m *testing.M) {
	xgb.Logger = log.New(io.Discard, "", 0) // silence "Could not get authority info"
	dir, err := os.MkdirTemp("", "porthole-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentDir = dir
	agentBin = filepath.Join(dir, "porthole-agent")
	if prebuilt := os.Getenv(agentBinEnv); prebuilt != "" {
		agentBin = prebuilt // a test re-running itself in a namespace
	} else {
		build := exec.Command("go", "build", "-o", agentBin, "porthole/cmd/porthole-agent")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building porthole-agent:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
