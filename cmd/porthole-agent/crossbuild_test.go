package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// goCmd runs the go tool with extra environment and returns its stdout.
func goCmd(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s go %s: %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// targets are the systems the agent must build for. Windows and macOS
// build without cgo until their libvpx builds exist.
var targets = []struct{ goos, cgo string }{{"linux", "1"}, {"windows", "0"}, {"darwin", "0"}}

// TestCrossBuilds builds the agent for every target (the build cache
// keeps repeat runs to a few seconds), and runs encode's tests without
// cgo, where NewVP8 must refuse with ErrNotBuilt.
func TestCrossBuilds(t *testing.T) {
	dir := t.TempDir()
	for _, tg := range targets {
		t.Run(tg.goos, func(t *testing.T) {
			goCmd(t, []string{"GOOS=" + tg.goos, "GOARCH=amd64", "CGO_ENABLED=" + tg.cgo},
				"build", "-o", filepath.Join(dir, "porthole-agent-"+tg.goos), "porthole/cmd/porthole-agent")
		})
	}
	t.Run("encode without cgo", func(t *testing.T) {
		out := goCmd(t, []string{"CGO_ENABLED=0"}, "test", "-count=1", "-run", "TestNotBuiltWithoutCgo", "-v", "porthole/agent/encode")
		if !bytes.Contains(out, []byte("--- PASS: TestNotBuiltWithoutCgo")) {
			t.Fatalf("the no-cgo encoder test did not run:\n%s", out)
		}
	})
}

// core is the agent's OS-free core: link, identity, support sessions,
// requests, expiry, outbox, and the agent package that wires break glass
// and elevation.
var core = []string{"porthole/agent", "porthole/agent/link", "porthole/agent/identity", "porthole/agent/support",
	"porthole/agent/request", "porthole/agent/outbox", "porthole/agent/expiry", "porthole/agent/stream",
	"porthole/agent/video", "porthole/agent/elevsock"}

// device packages bind to a display system or need cgo; only the platform
// files of this command may import them.
var device = []string{"porthole/agent/capture", "porthole/agent/encode", "porthole/agent/input"}

type listed struct {
	ImportPath string
	Standard   bool
	GoFiles    []string
	CgoFiles   []string
}

func list(t *testing.T, env []string, args ...string) []listed {
	t.Helper()
	out := goCmd(t, env, append([]string{"list", "-json=ImportPath,Standard,GoFiles,CgoFiles"}, args...)...)
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestCoreKnowsNoOS: on every target the core compiles from the same
// files, none of them cgo, and nothing it imports is a device package or a
// non-standard cgo package.
func TestCoreKnowsNoOS(t *testing.T) {
	files := map[string][]string{}
	for _, tg := range targets {
		env := []string{"GOOS=" + tg.goos, "GOARCH=amd64", "CGO_ENABLED=" + tg.cgo}
		for _, p := range list(t, env, core...) {
			if len(p.CgoFiles) > 0 {
				t.Errorf("%s: core package %s has cgo files %v", tg.goos, p.ImportPath, p.CgoFiles)
			}
			if prev, ok := files[p.ImportPath]; ok && !slices.Equal(prev, p.GoFiles) {
				t.Errorf("%s: core package %s builds from %v, elsewhere from %v", tg.goos, p.ImportPath, p.GoFiles, prev)
			}
			files[p.ImportPath] = p.GoFiles
		}
		for _, p := range list(t, env, append([]string{"-deps"}, core...)...) {
			if slices.Contains(device, p.ImportPath) {
				t.Errorf("%s: the core imports the device package %s", tg.goos, p.ImportPath)
			}
			if !p.Standard && len(p.CgoFiles) > 0 {
				t.Errorf("%s: the core imports the cgo package %s", tg.goos, p.ImportPath)
			}
		}
	}
	if len(files) != len(core) {
		t.Fatalf("listed %d core packages, want %d", len(files), len(core))
	}
}
