package wine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BuildOptions says what BuildGo builds.
type BuildOptions struct {
	// Pkg is the package to build, as go build takes it ("./cmd/x",
	// "porthole/agent/encode"); relative paths are relative to Dir.
	Pkg string
	// Out is the .exe to write.
	Out string
	// Dir is where go build runs; empty means the current directory.
	Dir string
	// CGO links C code (libvpx for agent/encode): mingw as the C compiler,
	// the static win64 libvpx from the cache (LibvpxDir), and a static
	// link so the exe needs no mingw DLLs. Without it cgo is off.
	CGO bool
	// Tags are extra build tags.
	Tags []string
}

// BuildGo cross-compiles a Go package for windows/amd64, with the Overlay
// that makes os.RemoveAll work under Wine 8: for programs that tests run
// under Wine. The first build for Windows compiles the standard library
// (~30 s); the Go build cache keeps it after that.
func BuildGo(ctx context.Context, o BuildOptions) error {
	ov, err := Overlay(ctx)
	if err != nil {
		return err
	}
	env, ldflags, err := crossEnv(ctx, o.Dir, o.CGO)
	if err != nil {
		return err
	}
	args := []string{"build", "-overlay", ov, "-o", o.Out}
	if ldflags != "" {
		args = append(args, "-ldflags="+ldflags)
	}
	if len(o.Tags) > 0 {
		args = append(args, "-tags", strings.Join(o.Tags, ","))
	}
	args = append(args, o.Pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = o.Dir
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("wine: go %s: %w\n%s", strings.Join(args, " "), err, tail(string(out)))
	}
	return nil
}

// crossEnv is the environment (and -ldflags) for a windows/amd64 go build.
func crossEnv(ctx context.Context, dir string, cgo bool) (env []string, ldflags string, err error) {
	env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if !cgo {
		return env, "", nil
	}
	vpx, err := LibvpxDir(ctx, dir)
	if err != nil {
		return nil, "", err
	}
	env = append(env, "CGO_ENABLED=1", "CC="+mingwCC, "CXX="+mingwCXX,
		// Only the cross libvpx: never Linux's vpx.pc from /usr.
		"PKG_CONFIG_LIBDIR="+filepath.Join(vpx, "lib", "pkgconfig"), "PKG_CONFIG_PATH=")
	return env, "-extldflags=-static", nil
}

// LibvpxDir returns the cached static win64 libvpx (include/, lib/,
// lib/pkgconfig/), building it first if needed (~1–3 minutes, once per
// libvpx version) with the module's scripts/build-libvpx-windows.sh. dir is
// any directory inside the module ("" for the current one).
func LibvpxDir(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOMOD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return "", fmt.Errorf("wine: libvpx: not inside the porthole module (go env GOMOD: %q, %v)", out, err)
	}
	script := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "scripts", "build-libvpx-windows.sh")
	cmd = exec.CommandContext(ctx, script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		return "", fmt.Errorf("wine: %s: %w\n%s", script, err, tail(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// BuildGoT builds a Windows program for a test, into the test's temporary
// directory, and returns the exe's path; a failed build fails the test. The
// Go build cache makes every build after the first one for a package a
// link of a few seconds.
func BuildGoT(t testing.TB, o BuildOptions) string {
	t.Helper()
	if o.Out == "" {
		o.Out = filepath.Join(t.TempDir(), filepath.Base(o.Pkg)+".exe")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := BuildGo(ctx, o); err != nil {
		t.Fatal(err)
	}
	return o.Out
}
