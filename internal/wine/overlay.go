package wine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Go ≥ 1.24 deletes files (os.RemoveAll, and so t.TempDir's cleanup) with
// NtSetInformationFile(FileDispositionInformationEx), falling back to the
// old call when Windows answers that it does not know the class. Wine 8
// answers STATUS_NOT_IMPLEMENTED, which Go does not expect, so every
// RemoveAll fails with "Invalid function". The overlay adds that status to
// Go's fallback list, for Windows programs built to run under Wine in tests
// (BuildGo, make test-windows); the agent that ships is built without it,
// and real Windows never answers that status.
const (
	atWindows   = "src/internal/syscall/windows/at_windows.go"
	fallbackOld = "\t\tSTATUS_NOT_SUPPORTED:     // the file system doesn't support FILE_DISPOSITION_INFORMATION_EX or one of the flags\n"
	fallbackNew = "\t\tSTATUS_NOT_SUPPORTED, // the file system doesn't support FILE_DISPOSITION_INFORMATION_EX or one of the flags\n" +
		"\t\tNTStatus(0xC0000002): // STATUS_NOT_IMPLEMENTED: Wine 8 (porthole test overlay)\n"
)

// Overlay returns the path of a go build -overlay file that makes Go's
// os.RemoveAll work under Wine 8 (see above), made for the Go toolchain
// that `go env GOROOT` names and kept in the cache. It fails with
// ErrGoSource when that Go's source no longer has the line it patches.
func Overlay(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("wine: go env GOROOT: %w", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), filepath.FromSlash(atWindows))
	orig, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("wine: overlay: %w", err)
	}
	if bytes.Count(orig, []byte(fallbackOld)) != 1 {
		return "", fmt.Errorf("%w: %s", ErrGoSource, src)
	}
	patched := bytes.Replace(orig, []byte(fallbackOld), []byte(fallbackNew), 1)
	sum := sha256.Sum256(append([]byte(src+"\x00"), patched...))
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "go-wine-overlay-"+hex.EncodeToString(sum[:])[:16])
	file := filepath.Join(dir, "overlay.json")
	if _, err := os.Stat(file); err == nil {
		return file, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("wine: overlay: %w", err)
	}
	work, err := os.MkdirTemp(cache, ".build-overlay-")
	if err != nil {
		return "", fmt.Errorf("wine: overlay: %w", err)
	}
	defer os.RemoveAll(work)
	if err := os.WriteFile(filepath.Join(work, "at_windows.go"), patched, 0o644); err != nil {
		return "", fmt.Errorf("wine: overlay: %w", err)
	}
	js, err := json.Marshal(map[string]map[string]string{
		"Replace": {src: filepath.Join(dir, "at_windows.go")},
	})
	if err != nil {
		return "", fmt.Errorf("wine: overlay: %w", err)
	}
	if err := os.WriteFile(filepath.Join(work, "overlay.json"), js, 0o644); err != nil {
		return "", fmt.Errorf("wine: overlay: %w", err)
	}
	if err := publish(work, dir); err != nil {
		return "", fmt.Errorf("wine: overlay: %w", err)
	}
	return file, nil
}
