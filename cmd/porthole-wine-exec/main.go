// Command porthole-wine-exec runs a Windows program under Wine on a private
// Xvfb display, in a fresh prefix with the ProcessPrng shim (internal/wine),
// and exits with the program's status. It is made for go test -exec, so
// that Windows package tests run on this Linux machine:
//
//	ov=$(porthole-wine-exec -overlay)
//	GOOS=windows GOARCH=amd64 go test -overlay "$ov" -exec porthole-wine-exec ./agent/encode
//
// (make test-windows does this, with cgo and the static mingw libvpx.)
// It also checks executables for DLLs that Windows does not ship:
//
//	porthole-wine-exec -check bin/porthole-agent.exe
//
// Every Wine process of the run is ended before it exits; an interrupt or
// termination (go test's timeout) ends the program and cleans up too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"porthole/internal/wine"
	"porthole/internal/xvfb"
)

func main() {
	overlay := flag.Bool("overlay", false, "print the path of the go build -overlay file for Windows programs run under Wine 8, and exit")
	check := flag.Bool("check", false, "check that each EXE argument imports only DLLs Windows ships, and exit")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: porthole-wine-exec PROGRAM.exe [ARGS...]\n       porthole-wine-exec -overlay\n       porthole-wine-exec -check EXE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	defer stop()

	var err error
	code := 0
	switch {
	case *overlay:
		var path string
		if path, err = wine.Overlay(ctx); err == nil {
			fmt.Println(path)
		}
	case *check:
		for _, exe := range flag.Args() {
			err = errors.Join(err, wine.CheckImports(exe))
		}
	case flag.NArg() == 0:
		flag.Usage()
		os.Exit(2)
	default:
		code, err = run(ctx, flag.Arg(0), flag.Args()[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "porthole-wine-exec:", err)
		if code == 0 {
			code = 1
		}
	}
	stop()
	os.Exit(code)
}

// run runs exe with args under Wine and returns its exit status. The error
// reports a failure of the harness (not of the program), including Wine
// processes that outlived the run.
func run(ctx context.Context, exe string, args []string) (code int, err error) {
	if err := wine.CheckImports(exe); err != nil {
		return 1, err
	}
	start := time.Now()
	x, err := xvfb.Start(ctx, xvfb.Options{})
	if err != nil {
		return 1, err
	}
	defer x.Close()
	p, err := wine.NewPrefix(ctx)
	if err != nil {
		return 1, err
	}
	defer func() { err = errors.Join(err, p.Close()) }()
	if os.Getenv("PORTHOLE_WINE_EXEC_VERBOSE") != "" {
		fmt.Fprintf(os.Stderr, "porthole-wine-exec: display %s, prefix %s ready in %v\n", x.Display, p.Dir, time.Since(start).Round(time.Millisecond))
	}

	cmd := p.Command(ctx, x.Display, exe, args...)
	// The program's own stdio, so its output streams to go test as written.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case ctx.Err() != nil:
		return 1, fmt.Errorf("%s: %w", exe, ctx.Err())
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), nil
	}
	return 1, fmt.Errorf("run %s under wine: %w", exe, err)
}
