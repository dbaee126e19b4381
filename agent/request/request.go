// Package request lets the end user ask IT for remote support from the
// endpoint: `porthole-agent request-support` (run by hand or from the
// desktop icon) talks to the running agent over its local socket
// (agent/localsock: a Unix socket; a named pipe on Windows); the
// agent asks for contact details and a reason (a desktop form when none
// were given), sends the request on its broker link, and reports what the
// broker decided to the asker and, for a denial or expiry, on the desktop.
//
// The running agent is the one way in because it already holds the one
// authenticated broker link a device may have (the broker refuses a second
// link with the same key); the command needs no key and no network.
package request

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"porthole/agent/localsock"
	"porthole/internal/wire"
)

// Errors, matched with errors.Is.
var (
	ErrNoForm    = errors.New("no desktop to show the request form on; give --name, --email or --phone, and --reason")
	ErrTooMany   = errors.New("too many support requests in progress on this endpoint")
	ErrCancelled = errors.New("request cancelled")
)

// form asks the end user for the request's fields (consent.Zenity.Form).
type form interface {
	Form(ctx context.Context, text string, fields []string, timeout time.Duration) ([]string, error)
}

// notifier shows the end user a message (consent.Zenity.Info).
type notifier interface {
	Info(ctx context.Context, text string, timeout time.Duration) error
}

// Config wires a Service.
type Config struct {
	// Socket is the unix socket `porthole-agent request-support` connects
	// to; it is created mode 0666 so the desktop user can reach it (put it
	// in a directory they can traverse).
	Socket string
	// Send writes a message on the broker link.
	Send func(wire.Message) error
	// Form and Notify show the desktop dialogs; nil disables them.
	Form   form
	Notify notifier
	// DesktopDir receives the "Request support" launcher while the
	// remote_support.desktop_icon setting is on; Command is what it runs.
	DesktopDir string
	Command    []string
	// FormTimeout bounds the form (default 5 minutes).
	FormTimeout time.Duration
	// Outcomes remembers the outcomes told (OpenOutcomes on the state
	// directory); nil remembers them in memory only.
	Outcomes *Outcomes
	Logger   *slog.Logger
}

// maxPending bounds requests waiting for an outcome (local callers could
// otherwise flood the broker).
const maxPending = 4

// Service runs the local request socket and tracks requests in flight.
type Service struct {
	cfg      Config
	log      *slog.Logger
	outcomes *Outcomes

	mu      sync.Mutex
	pending map[string]chan wire.SupportRequestResult // by agent request id; guarded by mu
	wg      sync.WaitGroup
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FormTimeout == 0 {
		cfg.FormTimeout = 5 * time.Minute
	}
	if cfg.Outcomes == nil {
		cfg.Outcomes = &Outcomes{told: map[string]time.Time{}}
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "request"), outcomes: cfg.Outcomes,
		pending: map[string]chan wire.SupportRequestResult{}}
}

// Local is what `porthole-agent request-support` sends: the contact details
// and reason, or nothing at all to have the agent show the desktop form.
type Local struct {
	Name   string `json:"name"`
	Email  string `json:"email"`
	Phone  string `json:"phone"`
	Reason string `json:"reason"`
}

func (l Local) empty() bool { return l == Local{} }

// Validate accepts an empty request (the form asks) or complete details.
func (l *Local) Validate() error {
	if l.empty() {
		return nil
	}
	return l.wire("x").Validate()
}

func (l Local) wire(id string) *wire.SupportRequest {
	return &wire.SupportRequest{RequestID: id, Name: strings.TrimSpace(l.Name), Email: strings.TrimSpace(l.Email),
		Phone: strings.TrimSpace(l.Phone), Reason: strings.TrimSpace(l.Reason)}
}

// DecodeLocal is the one decoder of what a local caller sends.
func DecodeLocal(line []byte) (Local, error) {
	var l Local
	err := wire.DecodeJSON(strings.NewReader(string(line)), 8<<10, &l)
	return l, err
}

// Result takes the broker's outcome of a support request. A decision
// (approved, denied, expired) goes to the command that filed the request
// while it waits, else to a desktop dialog; it is told once however often
// the broker resends it, and acknowledged each time.
func (s *Service) Result(_ context.Context, res *wire.SupportRequestResult) {
	s.mu.Lock()
	ch := s.pending[res.RequestID]
	if res.Final() {
		delete(s.pending, res.RequestID)
	}
	s.mu.Unlock()
	decided := res.Status != wire.RequestQueued && res.Status != wire.RequestRefused
	switch {
	case decided && ch != nil:
		s.deliver(ch, *res)
		s.Outcome(res.RequestID, func() {})
	case decided:
		s.Outcome(res.RequestID, func() {
			if res.Status != wire.RequestApproved {
				s.Notice(lateText(*res, time.Now()))
			}
		})
	case ch != nil:
		s.deliver(ch, *res)
	default:
		s.log.Info("outcome of an unknown request", "request_id", res.RequestID, "status", res.Status)
	}
}

// deliver hands res to the command waiting on ch, closing ch after a final
// result.
func (s *Service) deliver(ch chan wire.SupportRequestResult, res wire.SupportRequestResult) {
	select {
	case ch <- res: // buffered for the results a request gets: queued, then one final
	default:
		s.log.Warn("request outcome dropped: too many", "request_id", res.RequestID)
	}
	if res.Final() {
		close(ch)
	}
}

// Submit sends a request and returns its outcomes: "queued" or "refused"
// first, then the decision. An empty l shows the desktop form first.
func (s *Service) Submit(ctx context.Context, l Local) (<-chan wire.SupportRequestResult, error) {
	if l.empty() {
		if s.cfg.Form == nil {
			return nil, ErrNoForm
		}
		var err error
		if l, err = s.ask(ctx); err != nil {
			return nil, err
		}
	}
	id := newID()
	msg := l.wire(id)
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	ch := make(chan wire.SupportRequestResult, 2)
	s.mu.Lock()
	if len(s.pending) >= maxPending {
		s.mu.Unlock()
		return nil, ErrTooMany
	}
	s.pending[id] = ch
	s.mu.Unlock()
	if err := s.cfg.Send(msg); err != nil {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
		return nil, fmt.Errorf("the agent is not connected to the broker: %w", err)
	}
	s.log.Info("support request sent", "request_id", id)
	return ch, nil
}

// Form fields, in order.
var fields = []string{"Your name", "Email", "Phone", "What do you need help with?"}

func (s *Service) ask(ctx context.Context) (Local, error) {
	vals, err := s.cfg.Form.Form(ctx, "Ask IT support to connect to this computer.\nGive an email address or a phone number.", fields, s.cfg.FormTimeout)
	if err != nil {
		return Local{}, fmt.Errorf("%w: %w", ErrCancelled, err)
	}
	return Local{Name: vals[0], Email: vals[1], Phone: vals[2], Reason: vals[3]}, nil
}

// outcomeText is what the end user reads about a final outcome.
func outcomeText(r wire.SupportRequestResult) string { return outcomeOf(r, "Your support request") }

// lateText is outcomeText for an outcome nobody waits for any more (the
// command that filed it is gone): it says which request it is about.
func lateText(r wire.SupportRequestResult, now time.Time) string {
	subject := "Your support request"
	if !r.RequestedAt.IsZero() {
		subject += " of " + When(r.RequestedAt, now)
	}
	if r.Status == wire.RequestExpired {
		return subject + " expired: " + r.Message
	}
	return outcomeOf(r, subject)
}

func outcomeOf(r wire.SupportRequestResult, subject string) string {
	switch r.Status {
	case wire.RequestDenied:
		t := subject + " was denied"
		if r.By != "" {
			t += " by " + r.By
		}
		if r.Message != "" {
			t += ": " + r.Message
		}
		return t + "."
	case wire.RequestApproved:
		return subject + " was approved by " + r.By + ". You will be asked to allow the connection."
	}
	return r.Message
}

// notify shows a denial, expiry or refusal on the desktop, without
// blocking the caller.
func (s *Service) notify(r wire.SupportRequestResult) {
	if r.Status == wire.RequestQueued || r.Status == wire.RequestApproved {
		return
	}
	s.Notice(outcomeText(r))
}

// Notice shows the end user text in a desktop dialog (when the agent has
// a desktop), without blocking the caller; Run waits for open dialogs.
// Other end-user requests (elevation) use it to tell their outcome.
func (s *Service) Notice(text string) {
	if s.cfg.Notify == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.cfg.Notify.Info(context.Background(), text, 10*time.Minute); err != nil {
			s.log.Warn("show request outcome", "err", err)
		}
	}()
}

// Run serves the local socket until ctx ends, then waits for open dialogs.
func (s *Service) Run(ctx context.Context) error {
	defer s.wg.Wait()
	if s.cfg.Socket == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := localsock.Listen(s.cfg.Socket)
	if err != nil {
		return fmt.Errorf("request socket: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("request socket: %w", err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(ctx, c)
		}()
	}
}

// Reply is one line the agent writes back to the local caller.
type Reply struct {
	Status  string `json:"status"` // a wire.Request* status, or "error"
	Message string `json:"message"`
	By      string `json:"by,omitempty"`
}

// serve handles one local caller: one request line in, outcome lines out.
// Serve closes c.
func (s *Service) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	enc := json.NewEncoder(c)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReaderSize(c, 8<<10).ReadSlice('\n')
	if err != nil {
		_ = enc.Encode(Reply{Status: "error", Message: "bad request: " + err.Error()})
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	l, err := DecodeLocal(line)
	if err != nil {
		_ = enc.Encode(Reply{Status: "error", Message: err.Error()})
		return
	}
	ch, err := s.Submit(ctx, l)
	if err != nil {
		_ = enc.Encode(Reply{Status: "error", Message: err.Error()})
		return
	}
	for r := range ch {
		s.notify(r)
		if err := enc.Encode(Reply{Status: r.Status, Message: outcomeText(r), By: r.By}); err != nil {
			// The caller went away; keep draining so the desktop still hears the outcome.
			continue
		}
	}
}

// LauncherName is the desktop file the agent writes.
const LauncherName = "porthole-request-support.desktop"

// ApplySettings adds or removes the desktop launcher for the
// remote_support.desktop_icon setting.
func (s *Service) ApplySettings(values map[string]string) error {
	if s.cfg.DesktopDir == "" {
		return nil
	}
	path := filepath.Join(s.cfg.DesktopDir, LauncherName)
	if values["remote_support.desktop_icon"] != "true" || values["remote_support.allow"] == "false" {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove launcher: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(s.cfg.DesktopDir, 0o755); err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	return os.WriteFile(path, []byte(Launcher(s.cfg.Command)), 0o755)
}

// Launcher is the desktop entry that runs command.
func Launcher(command []string) string {
	q := make([]string, len(command))
	for i, a := range command {
		// Desktop Entry Exec quoting: double quotes, with " ` $ \ escaped.
		r := strings.NewReplacer(`\`, `\\\\`, `"`, `\\"`, "`", "\\\\`", `$`, `\\$`)
		q[i] = `"` + r.Replace(a) + `"`
	}
	return "[Desktop Entry]\nType=Application\nName=Request support\nComment=Ask IT support to connect to this computer\n" +
		"Icon=help-browser\nTerminal=false\nExec=" + strings.Join(q, " ") + "\n"
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Ask is the client side, used by `porthole-agent request-support`: it
// sends l to the agent at socket and calls onReply for each reply until the
// final one, which it returns.
func Ask(ctx context.Context, socket string, l Local, onReply func(Reply)) (Reply, error) {
	c, err := localsock.Dial(ctx, socket)
	if err != nil {
		return Reply{}, fmt.Errorf("cannot reach the Porthole agent at %s (is it running?): %w", socket, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	b, _ := json.Marshal(l)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return Reply{}, err
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	var last Reply
	for {
		var r Reply
		if err := dec.Decode(&r); err != nil {
			if last.Status != "" && last.Status != wire.RequestQueued {
				return last, nil
			}
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return last, fmt.Errorf("the agent closed the connection before an answer: %w", err)
		}
		last = r
		onReply(r)
	}
}
