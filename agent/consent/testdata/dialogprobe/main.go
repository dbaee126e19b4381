//go:build windows

// Command dialogprobe shows consent.Dialogs for the package's Wine tests
// (wine_linux_test.go), which run it under Wine on Xvfb and play the end
// user with xdotool. It reads one JSON command per line on stdin and writes
// one JSON reply per line on stdout (internal/dialogwire); commands run
// concurrently, so the test can press keys while a dialog waits:
//
//	{"op":"ask","requester":"Alice","view_only":true,"timeout_ms":30000} → {"op":"ask","answer":"allowed","err":""}
//	{"op":"show","requester":"Alice"}      → {"op":"show","err":""} once shown, {"op":"done"} when the user ends it
//	{"op":"stop"}                          → {"op":"stop"} once the latest indicator's stop has returned
//	{"op":"form","text":"…","fields":["…"],"timeout_ms":20000} → {"op":"form","values":["…"],"err":""}
//	{"op":"info","text":"…","timeout_ms":2000} → {"op":"info","err":""}
//	{"op":"cancel"}                        → cancels every running command's context (no reply)
//	{"op":"texts","title":"…"}             → {"op":"texts","texts":["…"]}: the controls' texts of this process's window titled so
//	{"op":"exit"}                          → waits for running commands, then {"op":"exit","leaks":"…"}: goroutines (goleak) and visible windows left
//
// "dialogprobe noninteractive" instead prints whether NewDialogs refuses a
// window station that is not interactive (ErrNoDisplay), and its error.
//
// Errors are named (ErrCancelled, context.Canceled, …) so the test can
// compare them; others are given as text.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unsafe"

	"go.uber.org/goleak"
	"golang.org/x/sys/windows"

	"porthole/agent/consent"
	"porthole/agent/consent/internal/dialogwire"
)

var (
	user32                  = windows.NewLazySystemDLL("user32.dll")
	findWindowEx            = user32.NewProc("FindWindowExW")
	getWindow               = user32.NewProc("GetWindow")
	getWindowText           = user32.NewProc("GetWindowTextW")
	createWindowStation     = user32.NewProc("CreateWindowStationW")
	setProcessWindowStation = user32.NewProc("SetProcessWindowStation")
)

// noninteractive moves the process to a window station of its own, which
// is not interactive (as a service's in session 0 is not), and prints what
// NewDialogs says there.
func noninteractive() {
	const winstaAllAccess = 0x37F
	name, _ := windows.UTF16PtrFromString("porthole-probe")
	ws, _, err := createWindowStation.Call(uintptr(unsafe.Pointer(name)), 0, winstaAllAccess, 0)
	if ws == 0 {
		fmt.Fprintln(os.Stderr, "dialogprobe: CreateWindowStation:", err)
		os.Exit(1)
	}
	if r, _, err := setProcessWindowStation.Call(ws); r == 0 {
		fmt.Fprintln(os.Stderr, "dialogprobe: SetProcessWindowStation:", err)
		os.Exit(1)
	}
	_, err = consent.NewDialogs(nil)
	fmt.Println(errors.Is(err, consent.ErrNoDisplay), err)
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "noninteractive" {
		noninteractive()
		return
	}
	d, err := consent.NewDialogs(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dialogprobe:", err)
		os.Exit(1)
	}
	var (
		outMu sync.Mutex
		enc   = json.NewEncoder(os.Stdout)
		wg    sync.WaitGroup

		mu     sync.Mutex
		ctx    context.Context
		cancel context.CancelFunc
		stop   func()
	)
	send := func(r dialogwire.Reply) {
		outMu.Lock()
		defer outMu.Unlock()
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "dialogprobe:", err)
			os.Exit(1)
		}
	}
	newCtx := func() {
		ctx, cancel = context.WithCancel(context.Background())
	}
	newCtx()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var c dialogwire.Command
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			fmt.Fprintln(os.Stderr, "dialogprobe: bad command:", err)
			os.Exit(2)
		}
		mu.Lock()
		cctx := ctx
		mu.Unlock()
		timeout := time.Duration(c.TimeoutMS) * time.Millisecond
		switch c.Op {
		case "ask":
			wg.Go(func() {
				a, err := d.Ask(cctx, consent.Request{Requester: c.Requester, ViewOnly: c.ViewOnly, Timeout: timeout})
				send(dialogwire.Reply{Op: c.Op, Answer: a.String(), Err: errName(err)})
			})
		case "show":
			done, s, err := d.Show(cctx, consent.Request{Requester: c.Requester, ViewOnly: c.ViewOnly})
			send(dialogwire.Reply{Op: c.Op, Err: errName(err)})
			if err == nil {
				mu.Lock()
				stop = s
				mu.Unlock()
				wg.Go(func() {
					select {
					case <-done:
						send(dialogwire.Reply{Op: "done"})
					case <-cctx.Done():
					}
				})
			}
		case "stop":
			mu.Lock()
			s := stop
			mu.Unlock()
			if s != nil {
				s()
			}
			send(dialogwire.Reply{Op: c.Op})
		case "form":
			wg.Go(func() {
				v, err := d.Form(cctx, c.Text, c.Fields, timeout)
				send(dialogwire.Reply{Op: c.Op, Values: v, Err: errName(err)})
			})
		case "info":
			wg.Go(func() {
				err := d.Info(cctx, c.Text, timeout)
				send(dialogwire.Reply{Op: c.Op, Err: errName(err)})
			})
		case "cancel":
			mu.Lock()
			cancel()
			newCtx()
			mu.Unlock()
		case "texts":
			t, err := texts(c.Title)
			send(dialogwire.Reply{Op: c.Op, Texts: t, Err: errName(err)})
		case "exit":
			mu.Lock()
			if stop != nil {
				stop()
			}
			cancel()
			mu.Unlock()
			wg.Wait()
			var leaks []string
			if err := goleak.Find(); err != nil {
				leaks = append(leaks, err.Error())
			}
			if w := visibleWindows(); len(w) > 0 {
				leaks = append(leaks, fmt.Sprintf("windows left: %q", w))
			}
			send(dialogwire.Reply{Op: c.Op, Leaks: strings.Join(leaks, "; ")})
			return
		default:
			fmt.Fprintln(os.Stderr, "dialogprobe: unknown op", c.Op)
			os.Exit(2)
		}
	}
	fmt.Fprintln(os.Stderr, "dialogprobe: stdin ended before exit:", in.Err())
	os.Exit(2)
}

func errName(err error) string {
	for _, e := range []struct {
		err  error
		name string
	}{
		{consent.ErrCancelled, "ErrCancelled"},
		{consent.ErrNoRequester, "ErrNoRequester"},
		{consent.ErrDialog, "ErrDialog"},
		{context.Canceled, "context.Canceled"},
	} {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// texts returns the texts of the children of this process's top-level
// window titled title.
func texts(title string) ([]string, error) {
	h := ownWindow(title)
	if h == 0 {
		return nil, fmt.Errorf("no window %q", title)
	}
	const gwChild, gwHwndNext = 5, 2
	var out []string
	c, _, _ := getWindow.Call(h, gwChild)
	for ; c != 0; c, _, _ = getWindow.Call(c, gwHwndNext) {
		out = append(out, windowText(c))
	}
	return out, nil
}

// ownWindow is this process's visible top-level window titled title, or 0.
func ownWindow(title string) uintptr {
	for _, h := range topWindows() {
		if windowText(h) == title {
			return h
		}
	}
	return 0
}

// visibleWindows lists the titles of this process's visible top-level windows.
func visibleWindows() []string {
	var out []string
	for _, h := range topWindows() {
		out = append(out, windowText(h))
	}
	return out
}

func topWindows() []uintptr {
	var out []uintptr
	pid := uint32(os.Getpid())
	var h uintptr
	for {
		h, _, _ = findWindowEx.Call(0, h, 0, 0)
		if h == 0 {
			return out
		}
		var owner uint32
		windows.GetWindowThreadProcessId(windows.HWND(h), &owner)
		if owner == pid && windows.IsWindowVisible(windows.HWND(h)) {
			out = append(out, h)
		}
	}
}

func windowText(h uintptr) string {
	buf := make([]uint16, 1024)
	n, _, _ := getWindowText.Call(h, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	return string(utf16.Decode(buf[:n]))
}
