package wine

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"porthole/internal/exitstatus"
	"porthole/internal/xdotool"
	"porthole/internal/xvfb"
)

// probeDir holds testdata/winprobe built once per test binary (probeT);
// TestMain removes it.
var (
	probeOnce sync.Once
	probeDir  string
	probeErr  error
)

func probeT(t *testing.T) string {
	t.Helper()
	probeOnce.Do(func() {
		probeDir, probeErr = os.MkdirTemp("", "porthole-winprobe-")
		if probeErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		probeErr = BuildGo(ctx, BuildOptions{Pkg: "./testdata/winprobe", Out: filepath.Join(probeDir, "winprobe.exe")})
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	return filepath.Join(probeDir, "winprobe.exe")
}

// run runs winprobe in p with args, with a limit, and returns its output.
func runProbe(t *testing.T, p *Prefix, display string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := p.Command(ctx, display, probeT(t), args...).CombinedOutput()
	return string(out), err
}

func TestPrefixIsFreshAndPrivate(t *testing.T) {
	start := time.Now()
	a := NewPrefixT(t)
	t.Logf("first prefix in %v", time.Since(start))
	start = time.Now()
	b := NewPrefixT(t)
	t.Logf("second prefix in %v", time.Since(start))
	if a.Dir == b.Dir {
		t.Fatalf("two prefixes share %s", a.Dir)
	}
	for _, p := range []*Prefix{a, b} {
		if _, err := os.Stat(filepath.Join(p.Dir, "drive_c", "windows", "system32", shimName)); err != nil {
			t.Errorf("shim not installed: %v", err)
		}
		// The registry is the prefix's own copy: a run changes only it.
		ra, _ := os.Stat(filepath.Join(a.Dir, "system.reg"))
		rb, _ := os.Stat(filepath.Join(b.Dir, "system.reg"))
		if ra == nil || rb == nil || os.SameFile(ra, rb) {
			t.Errorf("system.reg shared between prefixes (or missing): %v %v", ra, rb)
		}
		// Nothing in the profile leads out of the prefix (wineboot links
		// Desktop, Documents… to $HOME).
		ents, err := filepath.Glob(filepath.Join(p.Dir, "drive_c", "users", "*", "*"))
		if err != nil || len(ents) == 0 {
			t.Fatalf("no profile folders: %v", err)
		}
		for _, e := range ents {
			if fi, err := os.Lstat(e); err != nil || fi.Mode()&os.ModeSymlink != 0 {
				t.Errorf("%s is a link out of the prefix (%v)", e, err)
			}
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.Dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", a.Dir, err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// UDP sockets open in exes BuildGo makes (the overlay): WebRTC needs them.
func TestUDPUnderWine(t *testing.T) {
	p := NewPrefixT(t)
	out, err := runProbe(t, p, "", "udp")
	if err != nil || strings.TrimSpace(out) != "udp ok" {
		t.Fatalf("winprobe udp: %v\n%s", err, out)
	}
}

// A Go exe runs only with the shim; without it Wine 8 cannot start it.
func TestGoExeNeedsShim(t *testing.T) {
	p := NewPrefixT(t)
	out, err := runProbe(t, p, "", "rand")
	if err != nil {
		t.Fatalf("winprobe rand: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^[0-9a-f]{64}\r?$`).MatchString(out) {
		t.Fatalf("winprobe rand printed %q, want 64 hex digits", out)
	}

	if err := os.Remove(filepath.Join(p.Dir, "drive_c", "windows", "system32", shimName)); err != nil {
		t.Fatal(err)
	}
	out, err = runProbe(t, p, "", "rand")
	if err == nil {
		t.Fatalf("winprobe ran without the shim: %s", out)
	}
	if !strings.Contains(out, "bcryptprimitives") {
		t.Errorf("without the shim: %v, output %q; want the bcryptprimitives failure", err, out)
	}
}

// os.RemoveAll works in exes BuildGo makes (the overlay).
func TestRemoveAllUnderWine(t *testing.T) {
	p := NewPrefixT(t)
	out, err := runProbe(t, p, "", "removeall")
	if err != nil || strings.TrimSpace(out) != "removed" {
		t.Fatalf("winprobe removeall: %v\n%s", err, out)
	}
}

// The end-to-end proof of the harness: a Windows program's MessageBox shows
// on the Xvfb display, xdotool finds it by its caption, and keys answer it.
func TestMessageBoxAnsweredWithXdotool(t *testing.T) {
	x := xvfb.StartT(t, xvfb.Options{})
	p := NewPrefixT(t)
	for _, tc := range []struct {
		name, key string
		want      int
	}{
		{"enter gives the default, No", "Return", 7},
		{"y presses Yes", "y", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const caption = "Porthole probe"
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := p.Command(ctx, x.Display, probeT(t), "msgbox", caption, "Allow the probe?")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			xdotool.Press(t, x.Display, caption, tc.key)
			err := cmd.Wait()
			if got := exitstatus.Of(err); got != tc.want {
				t.Fatalf("answer %d (%v), want %d; output %q", got, err, tc.want, out.String())
			}
		})
	}
}

// Close ends the program, the child it started and Wine's own processes.
func TestCloseEndsEveryProcess(t *testing.T) {
	p, err := NewPrefix(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := p.Command(ctx, "", probeT(t), "spawn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("winprobe spawn: %q, %v", line, err)
	}
	// wineserver, the probe, its child and Wine's services at least; the
	// child (a Windows process started by a Windows process) among them.
	var cmdlines []string
	for _, pid := range p.Processes() {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		cmdlines = append(cmdlines, strings.ReplaceAll(string(b), "\x00", " "))
	}
	if len(cmdlines) < 4 || !slices.ContainsFunc(cmdlines, func(c string) bool { return strings.Contains(c, "winprobe.exe sleep") }) {
		t.Fatalf("processes in the prefix: %q; want wineserver, services and both probes", cmdlines)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if left := p.Processes(); len(left) > 0 {
		t.Fatalf("processes left after Close: %v", left)
	}
	werr := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(werr, &ee) {
		t.Fatalf("probe exited with %v, want killed", werr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && !ws.Signaled() && ws.ExitStatus() == 0 {
		t.Fatalf("probe exited normally: %v", werr)
	}
}

func TestCheckImports(t *testing.T) {
	libs, err := Imports(probeT(t))
	if err != nil || !slices.Contains(libs, "kernel32.dll") {
		t.Fatalf("Imports(winprobe) = %v, %v; want kernel32.dll among them", libs, err)
	}
	if err := CheckImports(probeT(t)); err != nil {
		t.Fatalf("winprobe: %v", err)
	}
	// A C program that uses pthreads, linked the mingw default way
	// (dynamically), needs libwinpthread-1.dll, which Windows lacks.
	dir := t.TempDir()
	src := filepath.Join(dir, "t.c")
	if err := os.WriteFile(src, []byte("#include <pthread.h>\n"+
		"static void *f(void *a) { return a; }\n"+
		"int main(void) { pthread_t t; pthread_create(&t, 0, f, 0); return pthread_join(t, 0); }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "t.exe")
	if out, err := exec.Command(mingwCC, "-o", exe, src, "-pthread").CombinedOutput(); err != nil {
		t.Fatalf("mingw: %v\n%s", err, out)
	}
	err = CheckImports(exe)
	if !errors.Is(err, ErrNotSystemDLL) || !strings.Contains(err.Error(), "libwinpthread-1.dll") {
		t.Fatalf("CheckImports(dynamic pthreads) = %v, want ErrNotSystemDLL naming libwinpthread-1.dll", err)
	}
}

// The cached win64 libvpx is what cgo builds for Windows see, and only it.
func TestLibvpxDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := LibvpxDir(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"lib/libvpx.a", "include/vpx/vp8cx.h", "lib/pkgconfig/vpx.pc"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("libvpx cache: %v", err)
		}
	}
	env, ldflags, err := crossEnv(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if ldflags != "-extldflags=-static" {
		t.Errorf("ldflags %q, want a static link", ldflags)
	}
	cmd := exec.Command("pkg-config", "--libs", "--cflags", "vpx")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pkg-config with the cross env: %v", err)
	}
	got := string(out)
	if !strings.Contains(got, dir) || !strings.Contains(got, "-lvpx") || !strings.Contains(got, "-lpthread") || strings.Contains(got, "/usr/") {
		t.Errorf("pkg-config vpx = %q; want the cache %s only, with -lvpx -lpthread", got, dir)
	}
}
