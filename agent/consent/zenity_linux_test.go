package consent_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/internal/xvfb"
)

func newZenity(t *testing.T, display string) *consent.Zenity {
	t.Helper()
	z, err := consent.NewZenity(consent.ZenityConfig{Display: display})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

type result struct {
	a   consent.Answer
	err error
}

func ask(ctx context.Context, z *consent.Zenity, req consent.Request) <-chan result {
	ch := make(chan result, 1)
	go func() {
		a, err := z.Ask(ctx, req)
		ch <- result{a, err}
	}()
	return ch
}

func receive(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("Ask did not return")
		return result{}
	}
}

// zenityPIDs lists zenity processes running on display (found through
// /proc, so other tests' dialogs on other displays do not count).
func zenityPIDs(t *testing.T, display string) []string {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, d := range dirs {
		cmdline, err1 := os.ReadFile(d + "/cmdline")
		environ, err2 := os.ReadFile(d + "/environ")
		if err1 != nil || err2 != nil {
			continue // gone, or not ours to read
		}
		if !bytes.Contains(cmdline, []byte("zenity\x00")) {
			continue
		}
		for kv := range bytes.SplitSeq(environ, []byte{0}) {
			if string(kv) == "DISPLAY="+display {
				pids = append(pids, filepath.Base(d))
			}
		}
	}
	return pids
}

func assertNoZenity(t *testing.T, display string) {
	t.Helper()
	if pids := zenityPIDs(t, display); len(pids) > 0 {
		t.Errorf("zenity still running on %s: pids %v", display, pids)
	}
}

// pressKey focuses the dialog and sends a raw key, for keys other than the
// mnemonics consenttest.Press uses.
func pressKey(t *testing.T, display, key string) {
	t.Helper()
	id := consenttest.WaitWindow(t, display, consent.DialogTitle)
	for _, args := range [][]string{{"windowfocus", "--sync", id}, {"key", key}} {
		cmd := exec.Command("xdotool", args...)
		cmd.Env = []string{"DISPLAY=" + display}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xdotool %v: %v\n%s", args, err, out)
		}
	}
}

func TestZenityAsk(t *testing.T) {
	x := xvfb.StartT(t, xvfb.Options{Width: 1024, Height: 768})
	z := newZenity(t, x.Display)
	for _, tc := range []struct {
		name     string
		viewOnly bool
		press    func(t *testing.T)
		want     consent.Answer
	}{
		{"yes", false, func(t *testing.T) { consenttest.Press(t, x.Display, consent.Allowed) }, consent.Allowed},
		{"no", true, func(t *testing.T) { consenttest.Press(t, x.Display, consent.Declined) }, consent.Declined},
		{"enter presses the default, No", false, func(t *testing.T) { pressKey(t, x.Display, "Return") }, consent.Declined},
		{"escape closes: No", true, func(t *testing.T) { pressKey(t, x.Display, "Escape") }, consent.Declined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res := ask(context.Background(), z, consent.Request{Requester: "Alice", ViewOnly: tc.viewOnly, Timeout: 30 * time.Second})
			consenttest.WaitWindow(t, x.Display, consent.DialogTitle)
			t.Logf("dialog visible after %v", time.Since(start).Round(time.Millisecond))
			tc.press(t)
			got := receive(t, res)
			if got.a != tc.want || got.err != nil {
				t.Errorf("Ask = %v, %v; want %v", got.a, got.err, tc.want)
			}
			t.Logf("answered after %v", time.Since(start).Round(time.Millisecond))
			assertNoZenity(t, x.Display)
		})
	}
}

func TestZenityTimeout(t *testing.T) {
	x := xvfb.StartT(t, xvfb.Options{})
	z := newZenity(t, x.Display)
	start := time.Now()
	res := ask(context.Background(), z, consent.Request{Requester: "Alice", Timeout: 2 * time.Second})
	consenttest.WaitWindow(t, x.Display, consent.DialogTitle)
	got := receive(t, res)
	elapsed := time.Since(start)
	if got.a != consent.TimedOut || got.err != nil {
		t.Fatalf("Ask = %v, %v; want TimedOut", got.a, got.err)
	}
	// zenity counts whole seconds once its window is up (startup ≈0.5-1 s),
	// so 2 s comes back after 3-4 s; the backstop would be 5 s.
	if elapsed < 2*time.Second || elapsed > 5*time.Second {
		t.Errorf("timed out after %v, want 2-5 s", elapsed)
	}
	t.Logf("timed out after %v", elapsed.Round(time.Millisecond))
	if consenttest.Visible(t, x.Display, consent.DialogTitle) {
		t.Error("dialog still visible after timeout")
	}
	assertNoZenity(t, x.Display)
}

func TestZenityCancel(t *testing.T) {
	x := xvfb.StartT(t, xvfb.Options{})
	z := newZenity(t, x.Display)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := ask(ctx, z, consent.Request{Requester: "Alice", Timeout: time.Minute})
	consenttest.WaitWindow(t, x.Display, consent.DialogTitle)
	if len(zenityPIDs(t, x.Display)) != 1 {
		t.Fatalf("want one zenity process on %s while asking, have %v", x.Display, zenityPIDs(t, x.Display))
	}
	start := time.Now()
	cancel()
	got := receive(t, res)
	if got.a != consent.Declined || !errors.Is(got.err, context.Canceled) {
		t.Errorf("Ask = %v, %v; want Declined, context.Canceled", got.a, got.err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Ask took %v to return after cancel", d)
	}
	consenttest.WaitGone(t, x.Display, consent.DialogTitle)
	assertNoZenity(t, x.Display)
}

func TestZenityErrors(t *testing.T) {
	if _, err := consent.NewZenity(consent.ZenityConfig{}); !errors.Is(err, consent.ErrNoDisplay) {
		t.Errorf("no Display: err = %v, want ErrNoDisplay", err)
	}
	if _, err := consent.NewZenity(consent.ZenityConfig{Display: ":1", Binary: "/nonexistent/zenity"}); !errors.Is(err, consent.ErrNoZenity) {
		t.Errorf("missing binary: err = %v, want ErrNoZenity", err)
	}
	// Display numbers are abstract unix sockets on this machine; nobody runs 65535.
	z := newZenity(t, ":65535")
	got, err := z.Ask(context.Background(), consent.Request{Requester: "Alice", Timeout: 5 * time.Second})
	if got != consent.Declined || !errors.Is(err, consent.ErrNoDisplay) {
		t.Errorf("Ask on a dead display = %v, %v; want Declined, ErrNoDisplay", got, err)
	}
	if !strings.Contains(err.Error(), "cannot open display") {
		t.Errorf("error %q does not say why", err)
	}
	if got, err := z.Ask(context.Background(), consent.Request{}); got != consent.Declined || !errors.Is(err, consent.ErrNoRequester) {
		t.Errorf("Ask without requester = %v, %v; want Declined, ErrNoRequester", got, err)
	}
	if _, _, err := z.Show(context.Background(), consent.Request{}); !errors.Is(err, consent.ErrNoRequester) {
		t.Errorf("Show without requester: err = %v, want ErrNoRequester", err)
	}
}

func TestZenityIndicator(t *testing.T) {
	x := xvfb.StartT(t, xvfb.Options{})
	z := newZenity(t, x.Display)
	for _, tc := range []struct {
		name  string
		end   func(t *testing.T, stop, cancel func())
		fired bool
	}{
		{"user presses Done", func(t *testing.T, stop, cancel func()) { consenttest.PressDone(t, x.Display) }, true},
		{"session stops it", func(t *testing.T, stop, cancel func()) { stop() }, false},
		{"context cancelled", func(t *testing.T, stop, cancel func()) { cancel() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done, stop, err := z.Show(ctx, consent.Request{Requester: "Alice", ViewOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			consenttest.WaitWindow(t, x.Display, consent.IndicatorTitle)
			tc.end(t, stop, cancel)
			if tc.fired {
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("done did not fire")
				}
			}
			consenttest.WaitGone(t, x.Display, consent.IndicatorTitle)
			stop()
			stop() // idempotent
			select {
			case <-done:
				if !tc.fired {
					t.Error("done fired although the session ended it")
				}
			default:
				if tc.fired {
					t.Error("done not fired")
				}
			}
			assertNoZenity(t, x.Display)
		})
	}
}

// An indicator that cannot be shown ends the session: the user must always
// have a way to stop sharing.
func TestZenityIndicatorFailsClosed(t *testing.T) {
	z := newZenity(t, ":65535")
	done, stop, err := z.Show(context.Background(), consent.Request{Requester: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("done did not fire for an indicator on a dead display")
	}
}

// Exit statuses real zenity does not produce on demand: a crash, and a
// dialog that hangs past its own --timeout (the backstop kills it).
func TestZenityBrokenBinary(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         consent.Answer
		err          error
	}{
		{"crash", "echo 'Gtk-ERROR: boom' >&2; exit 3", consent.Declined, consent.ErrDialog},
		{"hang", "exec sleep 60", consent.TimedOut, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "zenity")
			if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+tc.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			z, err := consent.NewZenity(consent.ZenityConfig{Display: ":65535", Binary: bin})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			got, err := z.Ask(context.Background(), consent.Request{Requester: "Alice", Timeout: 500 * time.Millisecond})
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("Ask = %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
			if err != nil && !strings.Contains(err.Error(), "boom") {
				t.Errorf("error %q lacks the dialog's stderr", err)
			}
			if d := time.Since(start); d > 6*time.Second {
				t.Errorf("Ask took %v", d)
			}
		})
	}
}
