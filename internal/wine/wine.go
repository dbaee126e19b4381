// Package wine runs Windows programs under Wine on an X display, for tests
// of the Windows agent on this Linux machine (see WINDOWS-NOTES):
//
//   - NewPrefix / NewPrefixT give a fresh, private WINEPREFIX per run: a copy
//     of a template made once by `wineboot -i` and cached (keyed by the Wine
//     version), with the ProcessPrng shim that Go needs on Wine 8 installed
//     into its system32. Close kills every Wine process of the prefix.
//   - Prefix.Command runs an exe on a given DISPLAY (internal/xvfb gives one).
//   - BuildGo cross-compiles a Go package for windows/amd64 (with cgo and the
//     static mingw libvpx when asked), with the overlay that makes Go's
//     os.RemoveAll work on Wine 8.
//   - CheckImports tells whether an exe needs only Windows' own DLLs.
//
// cmd/porthole-wine-exec builds on this to run `GOOS=windows go test` under
// Wine. Nothing here ships with the agent: real Windows needs no shim.
package wine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Programs this package runs, all from Debian packages that make deps
// installs (wine, wine64, gcc-mingw-w64-x86-64).
const (
	wineBin       = "wine"
	wineserverBin = "wineserver"
	mingwCC       = "x86_64-w64-mingw32-gcc"
	mingwCXX      = "x86_64-w64-mingw32-g++"
)

// Check reports whether Wine and the mingw compiler are installed; the error
// wraps ErrNotInstalled and names what is missing.
func Check() error {
	var missing []string
	for _, p := range []string{wineBin, wineserverBin, mingwCC} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s not found", ErrNotInstalled, strings.Join(missing, ", "))
	}
	return nil
}

// CacheDir is where slow-to-make artefacts are kept between runs, outside
// any clone: $PORTHOLE_CACHE, else $XDG_CACHE_HOME/porthole, else
// ~/.cache/porthole (the same rule as scripts/build-libvpx-windows.sh).
func CacheDir() (string, error) {
	if d := os.Getenv("PORTHOLE_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("wine: cache dir: %w", err)
	}
	return filepath.Join(d, "porthole"), nil
}

// overrides are the DLL overrides every run uses: the native ProcessPrng
// shim; no menu entries, Mono or Gecko (their installers would ask on
// screen and write outside the prefix); and no winedbg, so a crashing
// program ends (its fault is printed) instead of opening a crash dialog.
const overrides = "bcryptprimitives=n;winemenubuilder.exe=d;mscoree=d;mshtml=d;winedbg.exe=d"

// env is os.Environ without Wine's and X's variables, plus WINEPREFIX,
// HOME and the XDG directories inside root (so Wine writes nothing into the
// real home), quiet logs ($PORTHOLE_WINEDEBUG overrides WINEDEBUG=-all for
// debugging) and DISPLAY when display is not empty.
func env(prefix, home, display string) []string {
	debug := os.Getenv("PORTHOLE_WINEDEBUG")
	if debug == "" {
		debug = "-all"
	}
	out := []string{
		"WINEPREFIX=" + prefix,
		"WINEDEBUG=" + debug,
		"WINEDLLOVERRIDES=" + overrides,
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
	}
	if display != "" {
		out = append(out, "DISPLAY="+display)
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "WINE"), k == "HOME", k == "DISPLAY", k == "XAUTHORITY",
			strings.HasPrefix(k, "XDG_"):
			continue
		}
		out = append(out, kv)
	}
	return out
}

// run runs a helper program to completion, returning its combined output in
// the error when it fails.
func run(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 30 * time.Second // for Wine helpers that keep the pipe
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail(out.String()))
	}
	return nil
}

// tail keeps the end of a long tool output for an error message.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// copyFile copies src to dst (created, not truncated in place: dst must not
// be a hard link shared with a template).
func copyFile(src, dst string, perm os.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	_, err = io.Copy(out, in)
	return err
}

// publish renames the finished directory tmp to dst. If another process
// published dst first, tmp is removed and dst is kept: both hold the same.
func publish(tmp, dst string) error {
	if err := os.Rename(tmp, dst); err != nil {
		if _, statErr := os.Stat(dst); statErr == nil {
			return os.RemoveAll(tmp)
		}
		return err
	}
	return nil
}

// WinPath is the Windows path of a Linux path as Wine maps it: drive Z: is
// the Linux root.
func WinPath(linux string) string {
	return "Z:" + strings.ReplaceAll(linux, "/", `\`)
}
