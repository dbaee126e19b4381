package wine

import (
	"context"
	"crypto/sha256"
	_ "embed" // the shim's C source
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// shimSource is the test-only bcryptprimitives.dll that gives Go programs
// the ProcessPrng that Wine 8 lacks (see the comment in the file).
//
//go:embed shim/bcryptprimitives.c
var shimSource []byte

// shimName is the DLL's name in a prefix's system32: the Go runtime loads
// it from there only (a copy beside the exe is ignored), and the override
// bcryptprimitives=n makes Wine prefer it.
const shimName = "bcryptprimitives.dll"

// shimDLL builds the shim with mingw into the cache, keyed by the hash of
// its source and of the compiler's version, and returns its path.
func shimDLL(ctx context.Context) (string, error) {
	ver, err := exec.CommandContext(ctx, mingwCC, "-dumpfullversion").Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrNotInstalled, mingwCC, err)
	}
	h := sha256.New()
	h.Write(shimSource)
	h.Write(ver)
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	key := "wine-shim-" + hex.EncodeToString(h.Sum(nil))[:16]
	dst := filepath.Join(cache, key)
	dll := filepath.Join(dst, shimName)
	if _, err := os.Stat(dll); err == nil {
		return dll, nil
	}
	unlock, err := lockCache(ctx, cache, key)
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(dll); err == nil {
		return dll, nil
	}
	work, err := os.MkdirTemp(cache, ".build-"+key+"-")
	if err != nil {
		return "", fmt.Errorf("wine: shim: %w", err)
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "bcryptprimitives.c")
	if err := os.WriteFile(src, shimSource, 0o644); err != nil {
		return "", fmt.Errorf("wine: shim: %w", err)
	}
	out := filepath.Join(work, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return "", fmt.Errorf("wine: shim: %w", err)
	}
	if err := run(ctx, os.Environ(), mingwCC, "-shared", "-O2", "-s", "-Wall", "-Werror",
		"-o", filepath.Join(out, shimName), src, "-ladvapi32"); err != nil {
		return "", fmt.Errorf("wine: build the ProcessPrng shim: %w", err)
	}
	if err := publish(out, dst); err != nil {
		return "", fmt.Errorf("wine: shim: %w", err)
	}
	return dll, nil
}
