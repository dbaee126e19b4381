package consent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"porthole/internal/exitstatus"
)

// Zenity exit statuses (zenity(1)).
const (
	zenityOK      = 0
	zenityCancel  = 1
	zenityTimeout = 5
)

// backstop is how long after the dialog's own --timeout Ask kills it anyway,
// in case zenity hangs instead of timing out.
const backstop = 3 * time.Second

// ZenityConfig says where to show the dialogs.
type ZenityConfig struct {
	// Display is the X display of the user's session, e.g. ":0". Required:
	// the agent runs as a service and must never guess a display.
	Display string
	// XAuthority is the session's X authority file, if the display needs one.
	XAuthority string
	// Binary is the zenity program; empty means "zenity" from PATH.
	Binary string
	// Log receives diagnostic events; nil discards them.
	Log *slog.Logger
}

// Zenity shows consent questions and the session indicator as GTK dialogs
// by running the zenity program on the configured display.
//
// It runs zenity itself rather than through github.com/ncruces/zenity: that
// package passes only --display and inherits the agent's own environment,
// but a service running as root must hand the dialog the session's
// XAUTHORITY, and the question needs zenity's own --timeout (exit status 5)
// and the exit status to tell No from "the display could not be opened"
// (both exit 1; only stderr tells them apart).
type Zenity struct {
	bin string
	env []string
	log *slog.Logger
}

var (
	_ Asker     = (*Zenity)(nil)
	_ Indicator = (*Zenity)(nil)
)

// NewZenity checks the configuration and finds the zenity binary.
func NewZenity(cfg ZenityConfig) (*Zenity, error) {
	if cfg.Display == "" {
		return nil, fmt.Errorf("zenity dialogs: %w: Display not set", ErrNoDisplay)
	}
	if cfg.Binary == "" {
		cfg.Binary = "zenity"
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoZenity, err)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	env := []string{
		"DISPLAY=" + cfg.Display,
		// Without an accessibility bus GTK can stall for seconds looking for it.
		"NO_AT_BRIDGE=1",
	}
	if cfg.XAuthority != "" {
		env = append(env, "XAUTHORITY="+cfg.XAuthority)
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY", "NO_AT_BRIDGE":
			continue
		}
		env = append(env, kv)
	}
	return &Zenity{bin: bin, env: env, log: cfg.Log.With("component", "consent", "display", cfg.Display)}, nil
}

// Ask shows a Yes/No question; No is the default button, so a stray Enter
// declines. It returns Allowed on Yes, Declined on No or closing the window,
// TimedOut when the user does not answer within req.Timeout (rounded up to
// whole seconds), and ctx.Err() when ctx ends, having closed the dialog.
func (z *Zenity) Ask(ctx context.Context, req Request) (Answer, error) {
	req, err := req.normalize()
	if err != nil {
		return Declined, err
	}
	secs := int(math.Ceil(req.Timeout.Seconds()))
	dctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+backstop)
	defer cancel()
	cmd, stderr := z.command(dctx,
		"--question", "--title", DialogTitle, "--text", req.Question(),
		"--no-markup", "--no-wrap",
		"--ok-label", "_Yes", "--cancel-label", "_No", "--default-cancel",
		"--timeout", strconv.Itoa(secs))
	start := time.Now()
	err = cmd.Run()
	code := exitstatus.Of(err)
	z.log.Debug("consent_dialog_exit", "exit", code, "elapsed", time.Since(start))
	switch {
	case ctx.Err() != nil:
		return Declined, ctx.Err()
	case dctx.Err() != nil:
		z.log.Warn("consent_dialog_hung", "timeout", req.Timeout)
		return TimedOut, nil
	}
	switch code {
	case zenityOK:
		return Allowed, nil
	case zenityTimeout:
		return TimedOut, nil
	case zenityCancel:
		if noDisplay(stderr.Bytes()) {
			return Declined, fmt.Errorf("consent dialog: %w: %s", ErrNoDisplay, firstLine(stderr.Bytes()))
		}
		return Declined, nil
	}
	return Declined, fmt.Errorf("consent dialog: %w: %w: %s", ErrDialog, err, firstLine(stderr.Bytes()))
}

// Show opens the session indicator, an info window with a Done button. done
// is closed when the window goes away other than by stop or ctx: the user
// pressed Done or closed it, or zenity died (fail closed: the session ends).
func (z *Zenity) Show(ctx context.Context, req Request) (<-chan struct{}, func(), error) {
	req, err := req.normalize()
	if err != nil {
		return nil, nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	cmd, stderr := z.command(sctx,
		"--info", "--title", IndicatorTitle, "--text", req.Notice(),
		"--no-markup", "--no-wrap", "--ok-label", "Done")
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("session indicator: %w: %w", ErrDialog, err)
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		err := cmd.Wait()
		if sctx.Err() != nil {
			return // stopped by us
		}
		code := exitstatus.Of(err)
		if code != zenityOK {
			z.log.Warn("session_indicator_failed", "exit", code, "stderr", firstLine(stderr.Bytes()))
		}
		close(done)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-exited
		})
	}
	return done, stop, nil
}

// command prepares zenity with the session's environment. The process is
// killed when ctx ends; stderr is kept (bounded) to diagnose failures.
func (z *Zenity) command(ctx context.Context, args ...string) (*exec.Cmd, *boundedBuffer) {
	cmd := exec.CommandContext(ctx, z.bin, args...)
	cmd.Env = z.env
	stderr := &boundedBuffer{max: 4096}
	cmd.Stdout = io.Discard
	cmd.Stderr = stderr
	cmd.WaitDelay = time.Second
	return cmd, stderr
}

// noDisplay recognises GTK's "cannot open display" warning: zenity then
// exits 1, the same status as No.
func noDisplay(stderr []byte) bool {
	return bytes.Contains(stderr, []byte("cannot open display"))
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// boundedBuffer keeps the first max bytes written to it. exec writes to it
// from its own goroutine while the caller may read after Wait, so it locks.
type boundedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer // guarded by mu
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Bytes returns a copy of what was kept.
func (b *boundedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// formSeparator splits zenity's --forms answer; a unit separator cannot be
// typed into a GTK entry.
const formSeparator = "\x1f"

// Form asks the end user to fill in fields (one entry each) under text,
// and returns the answers in order. Cancel or closing the window is
// ErrCancelled; no answer within timeout is ErrCancelled too.
func (z *Zenity) Form(ctx context.Context, text string, fields []string, timeout time.Duration) ([]string, error) {
	secs := int(math.Ceil(timeout.Seconds()))
	dctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+backstop)
	defer cancel()
	args := []string{"--forms", "--title", FormTitle, "--text", text, "--separator", formSeparator, "--timeout", strconv.Itoa(secs)}
	for _, f := range fields {
		args = append(args, "--add-entry", f)
	}
	cmd, stderr := z.command(dctx, args...)
	var out boundedBuffer
	out.max = 8192
	cmd.Stdout = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	switch code := exitstatus.Of(err); {
	case code == zenityOK:
	case code == zenityCancel && noDisplay(stderr.Bytes()):
		return nil, fmt.Errorf("request form: %w: %s", ErrNoDisplay, firstLine(stderr.Bytes()))
	case code == zenityCancel, code == zenityTimeout, dctx.Err() != nil:
		return nil, ErrCancelled
	default:
		return nil, fmt.Errorf("request form: %w: %w: %s", ErrDialog, err, firstLine(stderr.Bytes()))
	}
	vals := strings.Split(strings.TrimRight(string(out.Bytes()), "\n"), formSeparator)
	if len(vals) != len(fields) {
		return nil, fmt.Errorf("request form: %w: %d answers for %d fields", ErrDialog, len(vals), len(fields))
	}
	return vals, nil
}

// Info shows a message with an OK button and returns when the end user
// closes it, timeout passes or ctx ends.
func (z *Zenity) Info(ctx context.Context, text string, timeout time.Duration) error {
	secs := int(math.Ceil(timeout.Seconds()))
	dctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+backstop)
	defer cancel()
	cmd, stderr := z.command(dctx, "--info", "--title", OutcomeTitle, "--text", text, "--no-markup", "--no-wrap",
		"--timeout", strconv.Itoa(secs))
	err := cmd.Run()
	if code := exitstatus.Of(err); code != zenityOK && code != zenityTimeout && ctx.Err() == nil {
		return fmt.Errorf("message dialog: %w: %w: %s", ErrDialog, err, firstLine(stderr.Bytes()))
	}
	return nil
}
