// Package notify emails portal users about new requests (support,
// elevation, access): it reads each audit record as an audit.Sink, and for
// request.created and access.requested sends one message, built from the
// record, to the notify.email_to recipients through the SMTP server the
// notify.* settings name. Sending is asynchronous and retried with a
// bounded backoff: a slow or broken mail server never delays or loses a
// request. Every outcome is audited (notify.sent, notify.failed).
//
// The audit log is the one hook because every kind of request is created
// through it, with the details an email needs, after the creation is
// certain to be recorded.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"strings"
	"sync"
	"time"

	"porthole/broker/audit"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock"
)

// sender submits one message to an SMTP server (*SMTP in the broker).
type sender interface {
	Send(ctx context.Context, srv Server, msg Message) error
}

var _ sender = (*SMTP)(nil)

type auditor interface {
	Append(ctx context.Context, e audit.Event) (store.AuditRecord, error)
}

type settingsReader interface {
	Effective(ctx context.Context, deviceID, key string) (settings.Value, error)
}

// groupReader names device groups for access requests.
type groupReader interface {
	Group(ctx context.Context, id string) (store.Group, error)
}

// Config wires a Notifier.
type Config struct {
	Settings settingsReader
	Audit    auditor
	Groups   groupReader // optional: access emails show the group's id without it
	Sender   sender
	// PortalURL is the broker's public URL; emails link to the request there.
	PortalURL string
	Clock     clock.Clock
	Logger    *slog.Logger
	// Attempts bounds the tries per email (default 4); Backoff is the wait
	// before the first retry, doubling after each (default 5s); Timeout
	// bounds each try (default 30s).
	Attempts int
	Backoff  time.Duration
	Timeout  time.Duration
	// Hostname names the broker in the default sender address
	// (default os.Hostname).
	Hostname string
	// Concurrent bounds the SMTP sessions open at once (default 4): a burst
	// of requests queues for the relay instead of opening a connection each.
	Concurrent int
}

// Notifier sends request emails. Publish starts them; Close waits for them.
type Notifier struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	closed bool           // guarded by mu: Publish starts no more sends
	wg     sync.WaitGroup // sends in flight
	abort  chan struct{}  // closed when Close gives up waiting
	slots  chan struct{}  // one token per open SMTP session (Concurrent)
}

// New returns a Notifier.
func New(cfg Config) *Notifier {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Concurrent <= 0 {
		cfg.Concurrent = 4
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
		if cfg.Hostname == "" {
			cfg.Hostname = "localhost"
		}
	}
	cfg.PortalURL = strings.TrimRight(cfg.PortalURL, "/")
	return &Notifier{cfg: cfg, log: cfg.Logger.With("component", "notify"), abort: make(chan struct{}),
		slots: make(chan struct{}, cfg.Concurrent)}
}

// Publish implements audit.Sink: a new request starts an email in the
// background; every other record is ignored. It never blocks.
func (n *Notifier) Publish(rec store.AuditRecord) {
	r, ok := requestOf(rec)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.log.Warn("request email not sent: shutting down", "request_id", r.ID)
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.deliver(r)
	}()
}

// Close stops new sends and waits for those in flight until ctx ends; then
// it aborts them (they are audited as failed) and returns ctx's error. It
// is idempotent.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	n.mu.Lock()
	select {
	case <-n.abort:
	default:
		close(n.abort)
	}
	n.mu.Unlock()
	<-done
	return ctx.Err()
}

// deliver sends r's email with retries and audits the outcome.
func (n *Notifier) deliver(r Request) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.abort:
			cancel()
		case <-ctx.Done():
		}
	}()
	srv, msg, err := n.message(ctx, r)
	if err != nil || len(msg.To) == 0 {
		if err != nil {
			n.failed(r, msg, 0, err)
		}
		return
	}
	select {
	case n.slots <- struct{}{}:
	case <-ctx.Done():
		n.failed(r, msg, 0, fmt.Errorf("%w: waiting for a free SMTP session", ErrClosed))
		return
	}
	attempts, err := n.send(ctx, srv, msg)
	<-n.slots
	if err != nil {
		n.failed(r, msg, attempts, err)
		return
	}
	n.log.Info("request email sent", "request_id", r.ID, "recipients", len(msg.To), "attempts", attempts)
	n.record(r, "notify.sent", map[string]any{"kind": r.Kind, "recipients": len(msg.To), "subject": msg.Subject,
		"attempts": attempts})
}

// send tries up to Attempts times, waiting Backoff, then twice as long,
// between tries; a configuration error is not retried.
func (n *Notifier) send(ctx context.Context, srv Server, msg Message) (attempts int, err error) {
	wait := n.cfg.Backoff
	for attempts = 1; ; attempts++ {
		actx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
		err = n.cfg.Sender.Send(actx, srv, msg)
		cancel()
		if err == nil || attempts >= n.cfg.Attempts || errors.Is(err, ErrNoHost) {
			return attempts, err
		}
		n.log.Info("request email failed; retrying", "attempt", attempts, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return attempts, fmt.Errorf("%w: %w", ErrClosed, err)
		}
		wait *= 2
	}
}

func (n *Notifier) failed(r Request, msg Message, attempts int, err error) {
	n.log.Error("request email not sent", "request_id", r.ID, "attempts", attempts, "err", err)
	n.record(r, "notify.failed", map[string]any{"kind": r.Kind, "recipients": len(msg.To), "subject": msg.Subject,
		"attempts": attempts, "error": err.Error()})
}

func (n *Notifier) record(r Request, action string, details map[string]any) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.cfg.Audit.Append(ctx, audit.Event{Actor: "system", Action: action, Target: r.ID, Details: details}); err != nil {
		n.log.Error("audit request email", "action", action, "err", err)
	}
}

// message reads the settings and builds r's email; no recipients means
// email notifications are off.
func (n *Notifier) message(ctx context.Context, r Request) (Server, Message, error) {
	get := func(key string) string {
		v, err := n.cfg.Settings.Effective(ctx, "", key)
		if err != nil {
			return ""
		}
		return v.Value
	}
	var msg Message
	if to := get(settings.NotifyEmailTo); strings.TrimSpace(to) != "" {
		list, err := mail.ParseAddressList(to)
		if err != nil {
			return Server{}, msg, fmt.Errorf("%s: %w", settings.NotifyEmailTo, err)
		}
		for _, a := range list {
			msg.To = append(msg.To, a.Address)
		}
	}
	if len(msg.To) == 0 {
		return Server{}, msg, nil
	}
	srv := Server{Host: get(settings.NotifySMTPHost), Username: get(settings.NotifySMTPUsername), StartTLS: get(settings.NotifySMTPStartTLS)}
	fmt.Sscan(get(settings.NotifySMTPPort), &srv.Port)
	msg.From = "porthole@" + n.cfg.Hostname
	if from := get(settings.NotifySMTPFrom); from != "" {
		a, err := mail.ParseAddress(from)
		if err != nil {
			return srv, msg, fmt.Errorf("%s: %w", settings.NotifySMTPFrom, err)
		}
		msg.From = a.Address
	}
	if r.Kind == kindAccess && r.GroupID != "" && n.cfg.Groups != nil {
		if g, err := n.cfg.Groups.Group(ctx, r.GroupID); err == nil {
			r.Group = g.Name
		}
	}
	deadline := r.CreatedAt
	if v, err := n.cfg.Settings.Effective(ctx, r.DeviceID, settings.RequestExpiry); err == nil {
		var mins int
		fmt.Sscan(v.Value, &mins)
		deadline = r.CreatedAt.Add(time.Duration(mins) * time.Minute)
	}
	now := n.cfg.Clock.Now()
	msg.Subject, msg.Body = Compose(r, n.cfg.PortalURL, deadline, now)
	msg.Date, msg.ID = now, NewMessageID(msg.From)
	return srv, msg, nil
}
