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

// patch is one change to a file of Go's source, made by the overlay for
// Windows programs built to run under Wine in tests (BuildGo, make
// test-windows); the agent that ships is built without it, and on real
// Windows each patched path is never taken.
type patch struct {
	file     string // under GOROOT, slash-separated
	old, new string // old occurs exactly once in the file
}

// patches work around what Wine 8 lacks:
//
//   - Go ≥ 1.24 deletes files (os.RemoveAll, and so t.TempDir's cleanup)
//     with NtSetInformationFile(FileDispositionInformationEx), falling back
//     to the old call when Windows answers that it does not know the class.
//     Wine 8 answers STATUS_NOT_IMPLEMENTED, which Go does not expect, so
//     every RemoveAll fails with "Invalid function". The patch adds that
//     status to Go's fallback list.
//   - Go ≥ 1.24 turns off NET_UNREACHABLE reports on every UDP socket with
//     WSAIoctl(SIO_UDP_NETRESET) and fails the socket if that fails. Wine 8
//     does not know the ioctl (WSAEOPNOTSUPP), so no UDP socket opens: no
//     WebRTC, no DNS. The patch lets that one error pass; the socket then
//     reports NET_UNREACHABLE as errors, which Wine on loopback never sends.
var patches = []patch{
	{
		file: "src/internal/syscall/windows/at_windows.go",
		old:  "\t\tSTATUS_NOT_SUPPORTED:     // the file system doesn't support FILE_DISPOSITION_INFORMATION_EX or one of the flags\n",
		new: "\t\tSTATUS_NOT_SUPPORTED, // the file system doesn't support FILE_DISPOSITION_INFORMATION_EX or one of the flags\n" +
			"\t\tNTStatus(0xC0000002): // STATUS_NOT_IMPLEMENTED: Wine 8 (porthole test overlay)\n",
	},
	{
		file: "src/net/fd_windows.go",
		old: "\t\terr = syscall.WSAIoctl(fd.pfd.Sysfd, windows.SIO_UDP_NETRESET, (*byte)(unsafe.Pointer(&flag)), size, nil, 0, &ret, nil, 0)\n" +
			"\t\tif err != nil {\n",
		new: "\t\terr = syscall.WSAIoctl(fd.pfd.Sysfd, windows.SIO_UDP_NETRESET, (*byte)(unsafe.Pointer(&flag)), size, nil, 0, &ret, nil, 0)\n" +
			"\t\tif err != nil && err != syscall.Errno(10045) { // WSAEOPNOTSUPP: Wine 8 (porthole test overlay)\n",
	},
}

// Overlay returns the path of a go build -overlay file that makes Go's
// os.RemoveAll and UDP sockets work under Wine 8 (see patches), made for
// the Go toolchain that `go env GOROOT` names and kept in the cache. It
// fails with ErrGoSource when that Go's source no longer has a line it
// patches.
func Overlay(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("wine: go env GOROOT: %w", err)
	}
	root := strings.TrimSpace(string(out))
	h := sha256.New()
	patched := make([][]byte, len(patches))
	for i, p := range patches {
		src := filepath.Join(root, filepath.FromSlash(p.file))
		orig, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("wine: overlay: %w", err)
		}
		if bytes.Count(orig, []byte(p.old)) != 1 {
			return "", fmt.Errorf("%w: %s", ErrGoSource, src)
		}
		patched[i] = bytes.Replace(orig, []byte(p.old), []byte(p.new), 1)
		h.Write([]byte(src + "\x00"))
		h.Write(patched[i])
		h.Write([]byte{0})
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "go-wine-overlay-"+hex.EncodeToString(h.Sum(nil))[:16])
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
	replace := map[string]string{}
	for i, p := range patches {
		name := fmt.Sprintf("%d-%s", i, filepath.Base(p.file))
		if err := os.WriteFile(filepath.Join(work, name), patched[i], 0o644); err != nil {
			return "", fmt.Errorf("wine: overlay: %w", err)
		}
		replace[filepath.Join(root, filepath.FromSlash(p.file))] = filepath.Join(dir, name)
	}
	js, err := json.Marshal(map[string]map[string]string{"Replace": replace})
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
