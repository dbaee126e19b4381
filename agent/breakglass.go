package agent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"porthole/agent/accounts"
	"porthole/agent/outbox"
	"porthole/internal/wire"
)

// accountManager is what break glass needs from accounts.Manager.
type accountManager interface {
	Create(ctx context.Context, spec accounts.Spec) (accounts.Account, error)
	Revoke(ctx context.Context, username string) error
	Reconcile(ctx context.Context, now time.Time) error
	Run(ctx context.Context) error
}

var _ accountManager = (*accounts.Manager)(nil)

// Audit kinds the agent adds after a removal reported by the Manager: a
// successful removal has ended the account's sessions and processes and
// deleted the user and its home, and the issue asks for each as an event.
const (
	kindLoggedOff = "breakglass.logged_off"
	kindDeleted   = "breakglass.deleted"
)

// removals are the Manager's event kinds that mean "the account is gone".
var removals = map[accounts.EventKind]bool{
	accounts.EventRevoked: true, accounts.EventExpired: true, accounts.EventUnused: true, accounts.EventRecovered: true,
}

// breakGlass answers the broker's break-glass requests with an accounts
// Manager and turns the Manager's events into outbox events. It owns the
// goroutines it starts for requests; wait waits for them.
type breakGlass struct {
	mgr    accountManager // nil when break glass is unavailable here
	why    error          // why mgr is nil
	prefix string
	clock  func() time.Time
	send   func(wire.Message) error
	log    *slog.Logger
	wg     sync.WaitGroup
}

// newBreakGlass builds the Manager from cfg; when it cannot be built (a
// tool missing) break glass is refused with the reason, and the agent
// still runs.
func newBreakGlass(cfg accounts.Config, prefix string, stateDir string, events *outbox.Outbox, send func(wire.Message) error, log *slog.Logger) *breakGlass {
	b := &breakGlass{prefix: prefix, send: send, log: log.With("component", "breakglass")}
	cfg.StateDir = stateDir
	cfg.Logger = log
	cfg.OnEvent = func(e accounts.Event) { b.record(events, e) }
	mgr, err := accounts.New(cfg)
	if err != nil {
		b.why = err
		b.log.Warn("break glass unavailable on this endpoint", "err", err)
		return b
	}
	b.mgr = mgr
	b.clock = time.Now
	if cfg.Clock != nil {
		b.clock = cfg.Clock.Now
	}
	return b
}

// record queues e (and, for a removal, the log-off and deletion it
// implies) in the outbox. The password is never in an Event.
func (b *breakGlass) record(events *outbox.Outbox, e accounts.Event) {
	data := map[string]any{"grant_id": e.GrantID, "username": e.Username, "requester": e.Requester,
		"at": e.At.UTC().Format(time.RFC3339Nano), "expires_at": e.ExpiresAt.UTC().Format(time.RFC3339)}
	if e.Err != "" {
		data["error"] = e.Err
	}
	kinds := []string{string(e.Kind)}
	if removals[e.Kind] {
		kinds = append(kinds, kindLoggedOff, kindDeleted)
	}
	for _, k := range kinds {
		if _, err := events.Add(k, data); err != nil {
			b.log.Error("break-glass event not queued", "kind", k, "user", e.Username, "err", err)
		}
	}
}

// start removes whatever the journal says is due (before the agent
// connects: an account must not outlive its expiry because the broker is
// unreachable), then keeps removing accounts on time until ctx ends.
func (b *breakGlass) start(ctx context.Context) {
	if b.mgr == nil {
		return
	}
	if err := b.mgr.Reconcile(ctx, b.clock()); err != nil {
		b.log.Error("break-glass reconcile at start", "err", err)
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		_ = b.mgr.Run(ctx)
	}()
}

// wait waits for the goroutines of start and handle.
func (b *breakGlass) wait() { b.wg.Wait() }

// onCreate and onRevoke take the broker's break-glass requests. The work
// (useradd, killing processes) runs in its own goroutine so the link keeps
// reading; wait waits for it.
func (b *breakGlass) onCreate(ctx context.Context, m *wire.BreakGlassCreate) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.create(ctx, *m)
	}()
}

func (b *breakGlass) onRevoke(ctx context.Context, m *wire.BreakGlassRevoke) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.revoke(ctx, *m)
	}()
}

var errUnavailable = errors.New("break glass is unavailable on this endpoint")

func (b *breakGlass) create(ctx context.Context, m wire.BreakGlassCreate) {
	if b.mgr == nil {
		b.fail(m.GrantID, wire.BreakGlassOpCreate, errors.Join(errUnavailable, b.why))
		return
	}
	acct, err := b.mgr.Create(ctx, accounts.Spec{Prefix: b.prefix, ExpiresAt: m.ExpiresAt,
		UseWithin: time.Duration(m.UseWithinSeconds) * time.Second, Requester: m.Requester, GrantID: m.GrantID})
	if err != nil {
		b.fail(m.GrantID, wire.BreakGlassOpCreate, err)
		return
	}
	if err := b.send(&wire.BreakGlassCreated{GrantID: m.GrantID, Username: acct.Username, Password: acct.Password,
		CreatedAt: acct.CreatedAt, ExpiresAt: acct.ExpiresAt, UseBy: acct.UseBy}); err != nil {
		// Nobody will ever see the password: remove the account now.
		b.log.Warn("break-glass credentials not delivered; removing the account", "user", acct.Username, "err", err)
		if err := b.mgr.Revoke(context.WithoutCancel(ctx), acct.Username); err != nil {
			b.log.Error("remove undelivered break-glass account", "user", acct.Username, "err", err)
		}
	}
}

func (b *breakGlass) revoke(ctx context.Context, m wire.BreakGlassRevoke) {
	if b.mgr == nil {
		b.fail(m.GrantID, wire.BreakGlassOpRevoke, errors.Join(errUnavailable, b.why))
		return
	}
	if err := b.mgr.Revoke(ctx, m.Username); err != nil {
		b.fail(m.GrantID, wire.BreakGlassOpRevoke, err)
		return
	}
	if err := b.send(&wire.BreakGlassRevoked{GrantID: m.GrantID, Username: m.Username}); err != nil {
		b.log.Warn("break-glass revoke confirmation not delivered", "user", m.Username, "err", err)
	}
}

// fail tells the broker why op did not happen.
func (b *breakGlass) fail(grantID, op string, err error) {
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	if err := b.send(&wire.BreakGlassFailed{GrantID: grantID, Op: op, Error: sanitize(msg)}); err != nil {
		b.log.Warn("break-glass failure not delivered", "grant_id", grantID, "err", err)
	}
}

// sanitize replaces control characters (command stderr has newlines),
// which the wire refuses.
func sanitize(s string) string {
	r := []rune(s)
	for i, c := range r {
		if c < 0x20 || c == 0x7f {
			r[i] = ' '
		}
	}
	return string(r)
}
