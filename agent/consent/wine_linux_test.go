package consent_test

// The Windows dialogs (dialogs_windows.go), run for real: testdata/dialogprobe
// shows them under Wine on Xvfb, and this test plays the end user with
// xdotool through consenttest, the same helpers that answer zenity, so the
// end-to-end tests can drive either agent.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/agent/consent/internal/dialogwire"
	"porthole/internal/wine"
	"porthole/internal/xdotool"
	"porthole/internal/xvfb"
)

// dialogProbe is dialogprobe running under Wine on an Xvfb display.
type dialogProbe struct {
	display string
	exe     string
	prefix  *wine.Prefix
	in      io.WriteCloser
	replies chan dialogwire.Reply
}

func startDialogProbe(t *testing.T) *dialogProbe {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	exe := filepath.Join(t.TempDir(), "dialogprobe.exe")
	start := time.Now()
	if err := wine.BuildGo(ctx, wine.BuildOptions{Pkg: "./testdata/dialogprobe", Out: exe}); err != nil {
		t.Fatal(err)
	}
	t.Logf("dialogprobe built in %v", time.Since(start).Round(time.Millisecond))
	x := xvfb.StartT(t, xvfb.Options{Width: 1024, Height: 768})
	p := wine.NewPrefixT(t)
	cmd := p.Command(ctx, x.Display, exe)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr := &dialogProbe{display: x.Display, exe: exe, prefix: p, in: in, replies: make(chan dialogwire.Reply)}
	go func() {
		defer close(pr.replies)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var r dialogwire.Reply
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				r = dialogwire.Reply{Op: "garbage", Err: sc.Text()}
			}
			pr.replies <- r
		}
	}()
	t.Cleanup(func() {
		pr.send(t, dialogwire.Command{Op: "exit"})
		if r := pr.recv(t, "exit"); r.Leaks != "" {
			t.Errorf("dialogprobe leaked: %s", r.Leaks)
		}
		in.Close()
		for range pr.replies {
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("dialogprobe: %v", err)
		}
		if t.Failed() {
			t.Logf("dialogprobe stderr:\n%s", stderr.String())
		}
	})
	return pr
}

func (pr *dialogProbe) send(t *testing.T, c dialogwire.Command) {
	t.Helper()
	b, _ := json.Marshal(c)
	if _, err := pr.in.Write(append(b, '\n')); err != nil {
		t.Fatalf("dialogprobe %s: %v", c.Op, err)
	}
}

// recv returns the next reply, which must be op's.
func (pr *dialogProbe) recv(t *testing.T, op string) dialogwire.Reply {
	t.Helper()
	select {
	case r, ok := <-pr.replies:
		if !ok {
			t.Fatalf("dialogprobe exited waiting for %s", op)
		}
		if r.Op != op {
			t.Fatalf("dialogprobe replied %+v, want a reply to %s", r, op)
		}
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("dialogprobe: no reply to %s", op)
	}
	return dialogwire.Reply{}
}

// windowGeometry is the position and size of window id.
func windowGeometry(t *testing.T, display, id string) (x, y, w, h int) {
	t.Helper()
	out, err := xdotool.Run(display, "getwindowgeometry", "--shell", id)
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]int{}
	for line := range strings.SplitSeq(out, "\n") {
		k, val, _ := strings.Cut(strings.TrimSpace(line), "=")
		v[k], _ = strconv.Atoi(val)
	}
	return v["X"], v["Y"], v["WIDTH"], v["HEIGHT"]
}

// inputFocus is the X window that has the keyboard focus.
func inputFocus(t *testing.T, display string) string {
	t.Helper()
	out, err := xdotool.Run(display, "getwindowfocus", "-f")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func TestWindowsDialogsUnderWine(t *testing.T) {
	pr := startDialogProbe(t)
	display := pr.display

	t.Run("ask", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			requester string
			viewOnly  bool
			press     func(t *testing.T)
			want      string
		}{
			{"yes", "Alice", false, func(t *testing.T) { consenttest.Press(t, display, consent.Allowed) }, "allowed"},
			{"no", "Zoë 李 & Co", true, func(t *testing.T) { consenttest.Press(t, display, consent.Declined) }, "declined"},
			{"enter presses the default, No", "Alice", false, func(t *testing.T) {
				xdotool.Press(t, display, consent.DialogTitle, "Return")
			}, "declined"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				start := time.Now()
				pr.send(t, dialogwire.Command{Op: "ask", Requester: tc.requester, ViewOnly: tc.viewOnly, TimeoutMS: 30000})
				consenttest.WaitWindow(t, display, consent.DialogTitle)
				t.Logf("dialog visible after %v", time.Since(start).Round(time.Millisecond))
				pr.send(t, dialogwire.Command{Op: "texts", Title: consent.DialogTitle})
				q := consent.Request{Requester: tc.requester, ViewOnly: tc.viewOnly}.Question()
				if r := pr.recv(t, "texts"); !slices.Contains(r.Texts, q) {
					t.Errorf("dialog shows %q (%s), want the question %q", r.Texts, r.Err, q)
				}
				tc.press(t)
				if r := pr.recv(t, "ask"); r.Answer != tc.want || r.Err != "" {
					t.Errorf("Ask = %s, %q; want %s", r.Answer, r.Err, tc.want)
				}
			})
		}
	})

	t.Run("ask times out", func(t *testing.T) {
		const timeout = 3 * time.Second
		start := time.Now()
		pr.send(t, dialogwire.Command{Op: "ask", Requester: "Alice", TimeoutMS: int(timeout / time.Millisecond)})
		consenttest.WaitWindow(t, display, consent.DialogTitle)
		r := pr.recv(t, "ask")
		elapsed := time.Since(start)
		if r.Answer != "timed_out" || r.Err != "" {
			t.Errorf("Ask = %s, %q; want timed_out", r.Answer, r.Err)
		}
		if elapsed < timeout || elapsed > timeout+3*time.Second {
			t.Errorf("timed out after %v, want %v and a little", elapsed, timeout)
		}
		if consenttest.Visible(t, display, consent.DialogTitle) {
			t.Error("dialog still on screen after Ask returned")
		}
	})

	t.Run("ask cancelled", func(t *testing.T) {
		pr.send(t, dialogwire.Command{Op: "ask", Requester: "Alice", TimeoutMS: 60000})
		consenttest.WaitWindow(t, display, consent.DialogTitle)
		start := time.Now()
		pr.send(t, dialogwire.Command{Op: "cancel"})
		if r := pr.recv(t, "ask"); r.Answer != "declined" || r.Err != "context.Canceled" {
			t.Errorf("Ask = %s, %q; want declined, context.Canceled", r.Answer, r.Err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Ask took %v to return after cancel", d)
		}
		if consenttest.Visible(t, display, consent.DialogTitle) {
			t.Error("dialog still on screen after Ask returned")
		}
	})

	t.Run("indicator", func(t *testing.T) {
		// It does not take the keyboard focus from what the user (or the
		// supporter) is typing into, here the consent question.
		pr.send(t, dialogwire.Command{Op: "ask", Requester: "Bob", TimeoutMS: 30000})
		xdotool.Focus(t, display, consenttest.WaitWindow(t, display, consent.DialogTitle))
		focused := inputFocus(t, display)

		req := consent.Request{Requester: "Alice", ViewOnly: true}
		pr.send(t, dialogwire.Command{Op: "show", Requester: req.Requester, ViewOnly: true})
		if r := pr.recv(t, "show"); r.Err != "" {
			t.Fatalf("Show: %s", r.Err)
		}
		id := consenttest.WaitWindow(t, display, consent.IndicatorTitle)
		if f := inputFocus(t, display); f != focused {
			t.Errorf("the indicator took the focus: window %s, was %s", f, focused)
		}
		consenttest.Press(t, display, consent.Declined)
		pr.recv(t, "ask")
		pr.send(t, dialogwire.Command{Op: "texts", Title: consent.IndicatorTitle})
		if r := pr.recv(t, "texts"); !slices.Equal(r.Texts, []string{req.Notice(), "Done"}) {
			t.Errorf("indicator shows %q (%s), want %q and Done", r.Texts, r.Err, req.Notice())
		}
		x, y, w, h := windowGeometry(t, display, id)
		t.Logf("indicator at %d,%d size %dx%d", x, y, w, h)
		if x+w < 1024-40 || y+h < 768-60 || x < 512 || y < 384 {
			t.Errorf("indicator at %d,%d size %dx%d; want it in the bottom-right corner of 1024x768", x, y, w, h)
		}

		// The session shows it again with a new text: stop, then Show.
		pr.send(t, dialogwire.Command{Op: "stop"})
		pr.recv(t, "stop")
		if consenttest.Visible(t, display, consent.IndicatorTitle) {
			t.Error("indicator still on screen after stop returned")
		}
		req.Requester = "Alice, session ends in 4:59"
		pr.send(t, dialogwire.Command{Op: "show", Requester: req.Requester, ViewOnly: true})
		pr.recv(t, "show")
		consenttest.WaitWindow(t, display, consent.IndicatorTitle)
		pr.send(t, dialogwire.Command{Op: "texts", Title: consent.IndicatorTitle})
		if r := pr.recv(t, "texts"); !slices.Contains(r.Texts, req.Notice()) {
			t.Errorf("indicator shows %q (%s), want %q", r.Texts, r.Err, req.Notice())
		}

		consenttest.PressDone(t, display)
		pr.recv(t, "done")
		pr.send(t, dialogwire.Command{Op: "stop"}) // after Done: nothing left to remove
		pr.recv(t, "stop")

		// Escape (like the close box) ends the session too.
		pr.send(t, dialogwire.Command{Op: "show", Requester: "Alice"})
		pr.recv(t, "show")
		xdotool.Press(t, display, consent.IndicatorTitle, "Escape")
		pr.recv(t, "done")

		// Cancelling Show's context removes it; done does not fire (the
		// next reply is the next command's).
		pr.send(t, dialogwire.Command{Op: "show", Requester: "Alice"})
		pr.recv(t, "show")
		consenttest.WaitWindow(t, display, consent.IndicatorTitle)
		pr.send(t, dialogwire.Command{Op: "cancel"})
		consenttest.WaitGone(t, display, consent.IndicatorTitle)
	})

	t.Run("form", func(t *testing.T) {
		fields := []string{"Your name", "Email", "Phone", "What do you need help with?"}
		form := dialogwire.Command{Op: "form", Text: "Ask IT support to connect to this computer.\nGive an email address or a phone number.", Fields: fields, TimeoutMS: 30000}

		pr.send(t, form)
		want := []string{"Ann Lee", "ann@example.com", "", "VPN fails"}
		consenttest.FillForm(t, display, want, true)
		if r := pr.recv(t, "form"); r.Err != "" || !slices.Equal(r.Values, want) {
			t.Errorf("Form = %q, %q; want %q", r.Values, r.Err, want)
		}

		pr.send(t, form)
		consenttest.FillForm(t, display, []string{"Ann"}, false)
		if r := pr.recv(t, "form"); r.Err != "ErrCancelled" {
			t.Errorf("cancelled Form = %q, %q; want ErrCancelled", r.Values, r.Err)
		}

		form.TimeoutMS = 3000
		pr.send(t, form)
		consenttest.WaitWindow(t, display, consent.FormTitle)
		if r := pr.recv(t, "form"); r.Err != "ErrCancelled" {
			t.Errorf("timed out Form = %q, %q; want ErrCancelled", r.Values, r.Err)
		}
		if consenttest.Visible(t, display, consent.FormTitle) {
			t.Error("form still on screen after Form returned")
		}
	})

	t.Run("info", func(t *testing.T) {
		pr.send(t, dialogwire.Command{Op: "info", Text: "Your support request was denied.", TimeoutMS: 30000})
		consenttest.Dismiss(t, display, consent.OutcomeTitle)
		if r := pr.recv(t, "info"); r.Err != "" {
			t.Errorf("Info: %s", r.Err)
		}

		start := time.Now()
		pr.send(t, dialogwire.Command{Op: "info", Text: "Your support request expired.", TimeoutMS: 3000})
		consenttest.WaitWindow(t, display, consent.OutcomeTitle)
		if r := pr.recv(t, "info"); r.Err != "" {
			t.Errorf("Info: %s", r.Err)
		}
		if d := time.Since(start); d < 3*time.Second {
			t.Errorf("Info returned after %v, before its timeout", d)
		}
		if consenttest.Visible(t, display, consent.OutcomeTitle) {
			t.Error("message still on screen after Info returned")
		}
	})

	// A process on a window station nobody sees (a service in session 0)
	// is refused at start, not left asking into the void until timeouts.
	t.Run("not interactive", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := pr.prefix.Command(ctx, display, pr.exe, "noninteractive").Output()
		if err != nil || !strings.HasPrefix(string(out), "true ") || !strings.Contains(string(out), "not interactive") {
			t.Errorf("NewDialogs on a non-interactive window station: %q, %v; want ErrNoDisplay saying why", out, err)
		}
	})
}
