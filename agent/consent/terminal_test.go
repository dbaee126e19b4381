package consent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from the terminal's reader
// goroutine while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// pipeTerminal returns a Terminal reading from a pipe the test writes to.
func pipeTerminal(t *testing.T) (*Terminal, *io.PipeWriter, *syncBuffer) {
	t.Helper()
	r, w := io.Pipe()
	out := &syncBuffer{}
	term := NewTerminal(r, out)
	t.Cleanup(func() {
		w.Close()
		if err := term.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return term, w, out
}

type askResult struct {
	a   Answer
	err error
}

func askAsync(ctx context.Context, a Asker, req Request) <-chan askResult {
	ch := make(chan askResult, 1)
	go func() {
		ans, err := a.Ask(ctx, req)
		ch <- askResult{ans, err}
	}()
	return ch
}

// waitOutput waits until the terminal has written want.
func waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output %q never contained %q", out.String(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTerminalAsk(t *testing.T) {
	for _, tc := range []struct {
		input string
		want  Answer
	}{
		{"y\n", Allowed},
		{"Yes\n", Allowed},
		{"  YES  \n", Allowed},
		{"n\n", Declined},
		{"\n", Declined},
		{"yeah\n", Declined},
		{"no\n", Declined},
	} {
		t.Run(strings.TrimSpace(tc.input), func(t *testing.T) {
			term, w, out := pipeTerminal(t)
			res := askAsync(context.Background(), term, Request{Requester: "Alice", Timeout: 10 * time.Second})
			waitOutput(t, out, "Alice wants to view and control your screen. Allow? [y/N] (10s to answer) ")
			if _, err := io.WriteString(w, tc.input); err != nil {
				t.Fatal(err)
			}
			if got := <-res; got.a != tc.want || got.err != nil {
				t.Errorf("Ask = %v, %v; want %v", got.a, got.err, tc.want)
			}
		})
	}
}

func TestTerminalAskStringReader(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		want        []Answer
		err         error // of the last Ask
	}{
		{"allow", "Y\n", []Answer{Allowed}, nil},
		// A line typed ahead, behind the answer, answers nothing: dropped.
		{"extra line dropped", "y\ny\n", []Answer{Allowed, Declined}, ErrInputClosed},
		{"no final newline", "yes", []Answer{Allowed}, nil},
		{"over-long line declines", strings.Repeat("y", 3*maxLine) + "\n", []Answer{Declined}, nil},
		{"empty input", "", []Answer{Declined}, ErrInputClosed},
		{"input ends after one", "y\n", []Answer{Allowed, Declined}, ErrInputClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			term := NewTerminal(strings.NewReader(tc.input), io.Discard)
			defer term.Close()
			for i, want := range tc.want {
				got, err := term.Ask(context.Background(), Request{Requester: "Alice", Timeout: 5 * time.Second})
				wantErr := error(nil)
				if i == len(tc.want)-1 {
					wantErr = tc.err
				}
				if got != want || !errors.Is(err, wantErr) {
					t.Errorf("Ask #%d = %v, %v; want %v, %v", i, got, err, want, wantErr)
				}
			}
		})
	}
}

func TestTerminalTimeout(t *testing.T) {
	term, _, out := pipeTerminal(t)
	start := time.Now()
	got, err := term.Ask(context.Background(), Request{Requester: "Alice", ViewOnly: true, Timeout: 200 * time.Millisecond})
	if got != TimedOut || err != nil {
		t.Fatalf("Ask = %v, %v; want TimedOut", got, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("timed out after %v, want about 200ms", d)
	}
	if !strings.Contains(out.String(), "Alice wants to view your screen. Allow?") || !strings.Contains(out.String(), "No answer: declined.") {
		t.Errorf("output %q", out.String())
	}
}

func TestTerminalCancel(t *testing.T) {
	term, _, out := pipeTerminal(t)
	ctx, cancel := context.WithCancel(context.Background())
	res := askAsync(ctx, term, Request{Requester: "Alice", Timeout: time.Minute})
	waitOutput(t, out, "Allow?")
	cancel()
	if got := <-res; got.a != Declined || !errors.Is(got.err, context.Canceled) {
		t.Errorf("Ask = %v, %v; want Declined, context.Canceled", got.a, got.err)
	}
}

// A "y" typed while nothing is asked must not answer the next question.
func TestTerminalDropsStaleInput(t *testing.T) {
	term, w, out := pipeTerminal(t)
	if got, _ := term.Ask(context.Background(), Request{Requester: "Alice", Timeout: 50 * time.Millisecond}); got != TimedOut {
		t.Fatalf("first Ask = %v, want TimedOut", got)
	}
	// The pipe accepts the second write only once the reader has finished
	// with the first line, so "y" has been dropped by the time "n" is read.
	if _, err := io.WriteString(w, "y\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "n"); err != nil {
		t.Fatal(err)
	}
	res := askAsync(context.Background(), term, Request{Requester: "Bob", Timeout: 10 * time.Second})
	waitOutput(t, out, "Bob wants")
	if _, err := io.WriteString(w, "\n"); err != nil {
		t.Fatal(err)
	}
	if got := <-res; got.a != Declined || got.err != nil {
		t.Errorf("second Ask = %v, %v; want Declined (stale y dropped)", got.a, got.err)
	}
}

func TestTerminalCloseWhileAsking(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	out := &syncBuffer{}
	term := NewTerminal(r, out)
	res := askAsync(context.Background(), term, Request{Requester: "Alice", Timeout: time.Minute})
	waitOutput(t, out, "Allow?")
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-res; got.a != Declined || !errors.Is(got.err, ErrInputClosed) {
		t.Errorf("Ask = %v, %v; want Declined, ErrInputClosed", got.a, got.err)
	}
	if got, err := term.Ask(context.Background(), Request{Requester: "Alice"}); got != Declined || !errors.Is(err, ErrInputClosed) {
		t.Errorf("Ask after Close = %v, %v; want Declined, ErrInputClosed", got, err)
	}
}

func TestTerminalCloseUnused(t *testing.T) {
	term := NewTerminal(strings.NewReader("y\n"), io.Discard)
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := term.Ask(context.Background(), Request{Requester: "Alice"}); got != Declined || !errors.Is(err, ErrInputClosed) {
		t.Errorf("Ask after Close = %v, %v; want Declined, ErrInputClosed", got, err)
	}
}

func TestTerminalShow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		end      func(t *testing.T, w *io.PipeWriter, stop func(), cancel func())
		fired    bool
		wantText string
	}{
		{
			name: "user types done",
			end: func(t *testing.T, w *io.PipeWriter, stop, cancel func()) {
				io.WriteString(w, "what\n")
				io.WriteString(w, " DONE \n")
			},
			fired:    true,
			wantText: "Type done and Enter to end screen sharing.",
		},
		{
			name:     "input ends",
			end:      func(t *testing.T, w *io.PipeWriter, stop, cancel func()) { w.Close() },
			fired:    true,
			wantText: "Done ends it. Type done and Enter to end it.",
		},
		{
			name:     "stopped",
			end:      func(t *testing.T, w *io.PipeWriter, stop, cancel func()) { stop() },
			wantText: "Screen sharing ended.",
		},
		{
			name:     "context cancelled",
			end:      func(t *testing.T, w *io.PipeWriter, stop, cancel func()) { cancel() },
			wantText: "Screen sharing ended.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			term, w, out := pipeTerminal(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done, stop, err := term.Show(ctx, Request{Requester: "Alice"})
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			waitOutput(t, out, "Your screen is being shared with Alice (they can also control it). Done ends it. Type done and Enter to end it.\n")
			if _, err := term.Ask(ctx, Request{Requester: "Bob"}); !errors.Is(err, ErrBusy) {
				t.Errorf("Ask while showing: err = %v, want ErrBusy", err)
			}
			tc.end(t, w, stop, cancel)
			if tc.fired {
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Fatal("done did not fire")
				}
			} else {
				waitOutput(t, out, tc.wantText)
				select {
				case <-done:
					t.Fatal("done fired although the session ended it")
				default:
				}
			}
			stop()
			stop() // idempotent
			waitOutput(t, out, tc.wantText)
		})
	}
}

func TestTerminalShowThenAsk(t *testing.T) {
	term, w, out := pipeTerminal(t)
	_, stop, err := term.Show(context.Background(), Request{Requester: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	res := askAsync(context.Background(), term, Request{Requester: "Bob", Timeout: 10 * time.Second})
	waitOutput(t, out, "Bob wants")
	io.WriteString(w, "y\n")
	if got := <-res; got.a != Allowed || got.err != nil {
		t.Errorf("Ask after stop = %v, %v; want Allowed", got.a, got.err)
	}
}
