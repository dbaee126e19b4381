package consent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Terminal asks on a console: it writes the question to w and reads the
// answer, a line, from r ("y" or "yes" allow; anything else declines). It is
// the fallback when the session has no display. It serves one question or
// session at a time (ErrBusy otherwise).
//
// A single goroutine, started on first use, reads r line by line. Lines that
// arrive while nothing is being asked are thrown away, so a "y" typed before
// the question appears never counts as consent. Close stops it.
type Terminal struct {
	r io.Reader
	w io.Writer

	wmu sync.Mutex // serializes writes to w

	startOnce sync.Once
	readerEnd chan struct{} // closed when the reader goroutine returns

	mu     sync.Mutex
	waiter func(line string, err error) // guarded by mu; who gets the next line, nil if nobody
	err    error                        // guarded by mu; why reading stopped, nil while it runs
}

var (
	_ Asker     = (*Terminal)(nil)
	_ Indicator = (*Terminal)(nil)
)

// NewTerminal returns a Terminal reading answers from r and writing prompts
// to w. Close closes r if it is an io.Closer.
func NewTerminal(r io.Reader, w io.Writer) *Terminal {
	return &Terminal{r: r, w: w, readerEnd: make(chan struct{})}
}

// Ask writes the question and waits for a line. No input before req.Timeout
// is TimedOut; the end of input is Declined with ErrInputClosed; ctx ending
// returns ctx.Err().
func (t *Terminal) Ask(ctx context.Context, req Request) (Answer, error) {
	req, err := req.normalize()
	if err != nil {
		return Declined, err
	}
	if err := ctx.Err(); err != nil {
		return Declined, err
	}
	type result struct {
		line string
		err  error
	}
	got := make(chan result, 1)
	prompt := fmt.Sprintf("%s [y/N] (%s to answer) ", req.Question(), req.Timeout.Round(time.Second))
	if err := t.claim(prompt, func(line string, err error) {
		select {
		case got <- result{line, err}:
		default: // already answered
		}
	}); err != nil {
		return Declined, err
	}
	defer t.release()
	timer := time.NewTimer(req.Timeout)
	defer timer.Stop()
	select {
	case res := <-got:
		if res.err != nil {
			return Declined, fmt.Errorf("consent prompt: %w", res.err)
		}
		switch strings.ToLower(strings.TrimSpace(res.line)) {
		case "y", "yes":
			return Allowed, nil
		}
		return Declined, nil
	case <-timer.C:
		t.write("\nNo answer: declined.\n")
		return TimedOut, nil
	case <-ctx.Done():
		t.write("\nCancelled.\n")
		return Declined, ctx.Err()
	}
}

// Show writes the notice and waits for the user to type "done". done is also
// closed if the input ends: the user could no longer end the session.
func (t *Terminal) Show(ctx context.Context, req Request) (<-chan struct{}, func(), error) {
	req, err := req.normalize()
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	var fire sync.Once
	if err := t.claim(req.Notice()+" Type done and Enter to end it.\n", func(line string, err error) {
		switch {
		case err != nil, strings.EqualFold(strings.TrimSpace(line), "done"):
			fire.Do(func() { close(done) })
		default:
			t.write("Type done and Enter to end screen sharing.\n")
		}
	}); err != nil {
		return nil, nil, err
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			t.release()
			select {
			case <-done:
			default:
				t.write("Screen sharing ended.\n")
			}
		})
	}
	unwatch := context.AfterFunc(ctx, stop)
	return done, func() { unwatch(); stop() }, nil
}

// Close stops reading: it closes r if r is an io.Closer and waits for the
// reader goroutine. If r is not a Closer, Close waits until r yields its next
// line or ends.
func (t *Terminal) Close() error {
	var err error
	if c, ok := t.r.(io.Closer); ok {
		err = c.Close()
	}
	t.mu.Lock()
	if t.err == nil {
		t.err = ErrInputClosed
	}
	t.mu.Unlock()
	t.startOnce.Do(func() { close(t.readerEnd) }) // never started: nothing to wait for
	<-t.readerEnd
	return err
}

// claim makes fn the receiver of input lines after writing prompt. It fails
// when someone else holds the terminal or input has ended.
func (t *Terminal) claim(prompt string, fn func(line string, err error)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return fmt.Errorf("consent prompt: %w", t.err)
	}
	if t.waiter != nil {
		return ErrBusy
	}
	if err := t.write(prompt); err != nil {
		return fmt.Errorf("consent prompt: write: %w", err)
	}
	t.waiter = fn
	// Start reading only now, so input that is already there (a file, a
	// strings.Reader) answers the first question instead of being dropped.
	t.startOnce.Do(func() { go t.read() })
	return nil
}

func (t *Terminal) release() {
	t.mu.Lock()
	t.waiter = nil
	t.mu.Unlock()
}

// maxLine bounds a line of terminal input; the rest of a longer line is
// skipped (its start is not an answer anyway).
const maxLine = 4096

// read delivers each line to the current waiter, or drops it. Input already
// buffered behind a line that answered is dropped too: a question is
// answered by a line typed for it, never by one typed ahead ("y" twice in
// a row allows one session, not the next). When r ends the waiter gets
// ErrInputClosed and so will every later claim.
func (t *Terminal) read() {
	defer close(t.readerEnd)
	br := bufio.NewReaderSize(t.r, maxLine)
	var rerr error
	for rerr == nil {
		var line []byte
		line, rerr = br.ReadSlice('\n')
		text := strings.TrimRight(string(line), "\r\n")
		for errors.Is(rerr, bufio.ErrBufferFull) {
			_, rerr = br.ReadSlice('\n')
		}
		if len(line) == 0 {
			continue
		}
		t.mu.Lock()
		fn := t.waiter
		t.mu.Unlock()
		if fn != nil {
			fn(text, nil)
			_, _ = br.Discard(br.Buffered())
		}
	}
	err := ErrInputClosed
	if !errors.Is(rerr, io.EOF) {
		err = fmt.Errorf("%w: %w", ErrInputClosed, rerr)
	}
	t.mu.Lock()
	t.err = err
	fn := t.waiter
	t.mu.Unlock()
	if fn != nil {
		fn("", err)
	}
}

func (t *Terminal) write(s string) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	_, err := io.WriteString(t.w, s)
	return err
}
