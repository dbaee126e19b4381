// Package accounts creates the temporary local administrator accounts of
// break glass, and makes sure they disappear on time even when the agent is
// offline, restarted or the machine rebooted.
//
// A Manager creates an account with a random username and a strong random
// password, records it in a journal in the agent's state directory before
// touching the system, and removes it (forced log-off, every process killed,
// user and home deleted) when it expires, when it was not used within its
// use-within window, or when the broker revokes it. Reconcile, run at start
// and by Run on a timer, applies those deadlines from the journal alone, so
// no broker is needed for an account to go away. Every step is reported as
// an Event for the broker's audit log.
//
// The operating-system work sits behind the small system interface: Linux
// (useradd/chpasswd/userdel and /proc; tested as root) in system_linux.go;
// Windows in winsystem.go, written against the netapi32, WTS and process
// calls it makes (agent/winlocal) and unit-tested on every OS against
// winlocaltest.Machine, with system_windows.go plugging in the real calls;
// macOS (dscl, sysadminctl) in system_darwin.go, compiled but not tested
// here.
package accounts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"porthole/agent/expiry"
	"porthole/internal/clock"
)

// Defaults for Config.
const (
	// DefaultPollInterval is how often Run wakes even without a deadline:
	// it notices first use, and wall-clock jumps (suspend, NTP) that a
	// monotonic timer would miss.
	DefaultPollInterval = 30 * time.Second
	// DefaultMaxLifetime bounds ExpiresAt at the agent, on top of the
	// broker's settings check.
	DefaultMaxLifetime = 72 * time.Hour
	// removedRetention is how long removed accounts stay in the journal, so
	// Status can still answer "removed".
	removedRetention = 30 * 24 * time.Hour
	// maxTextLen bounds GrantID and Requester.
	maxTextLen = 256
	// nameAttempts is how many random names Create tries before giving up.
	nameAttempts = 20
	// killRounds bounds the loop that kills a removed user's processes
	// (processes may start others while we kill); killPause is the pause
	// between rounds.
	killRounds = 50
	killPause  = 20 * time.Millisecond
)

// Timer gives the channels Run waits on; tests drive it (clocktest.TimerClock).
type Timer = clock.Timer

// Config configures a Manager.
type Config struct {
	// StateDir is the agent's state directory; the journal lives there.
	// Required. Created with mode 0700 if missing.
	StateDir string
	// Clock tells the time for deadlines; default clock.Real.
	Clock clock.Clock
	// Timer is what Run sleeps on; default time.After.
	Timer Timer
	// OnEvent receives every audit event, after the step it reports is
	// done and outside the Manager's lock. It should queue the event for
	// the broker and return quickly. Default: events are dropped.
	OnEvent func(Event)
	// Logger is for operational logs (never passwords); default discards.
	Logger *slog.Logger
	// PollInterval is Run's longest sleep; default DefaultPollInterval.
	PollInterval time.Duration
	// MaxLifetime bounds ExpiresAt - now; default DefaultMaxLifetime.
	MaxLifetime time.Duration
	// Root, if set, makes the Linux implementation manage the account
	// database of that directory (its etc/passwd, etc/group, etc/shadow,
	// home and var/log: useradd --prefix) instead of the machine's own.
	// Tests and the end-to-end agent use a throwaway root so they never
	// touch this machine's accounts. Empty or "/" is the real system.
	Root string
}

// Spec asks for one account.
type Spec struct {
	// Prefix starts the username; empty means DefaultPrefix. Lowercase
	// letters, digits, '-' and '_', starting with a letter, at most 12
	// characters (8 random characters follow).
	Prefix string
	// ExpiresAt is when the account is logged off and deleted. Must be in
	// the future and within Config.MaxLifetime.
	ExpiresAt time.Time
	// UseWithin, if not zero, removes the account early when nobody has
	// logged in within this long after creation.
	UseWithin time.Duration
	// Requester is the portal user who generated the account (audit).
	Requester string
	// GrantID is the broker's id of the approved grant. Required.
	GrantID string
}

// Account is a created account. Password is shown to the requester once and
// is not stored anywhere by the Manager.
type Account struct {
	Username  string
	Password  string
	GrantID   string
	Requester string
	CreatedAt time.Time
	ExpiresAt time.Time
	// UseBy is when the account goes if still unused; zero if no window.
	UseBy time.Time
}

// Status is where an account is in its life.
type Status int

// Statuses.
const (
	// StatusPending: created, nobody has logged in yet.
	StatusPending Status = iota
	// StatusActive: the account has processes running now.
	StatusActive
	// StatusUsed: someone logged in, no process runs now.
	StatusUsed
	// StatusExpired: its deadline has passed (or creation was
	// interrupted) and removal is due or being retried.
	StatusExpired
	// StatusRemoved: the account no longer exists.
	StatusRemoved
)

// String names the status for the broker and logs.
func (s Status) String() string {
	switch s {
	case StatusPending:
		return "pending"
	case StatusActive:
		return "active"
	case StatusUsed:
		return "used"
	case StatusExpired:
		return "expired"
	case StatusRemoved:
		return "removed"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// EventKind says what happened to an account.
type EventKind string

// Event kinds.
const (
	// EventCreated: the account exists and its password was handed out.
	EventCreated EventKind = "breakglass.created"
	// EventCreateFailed: creation failed; anything half-made was removed.
	EventCreateFailed EventKind = "breakglass.create_failed"
	// EventUsed: the account was seen in use for the first time.
	EventUsed EventKind = "breakglass.used"
	// EventRevoked: removed on request (Revoke).
	EventRevoked EventKind = "breakglass.revoked"
	// EventExpired: removed because ExpiresAt passed.
	EventExpired EventKind = "breakglass.expired"
	// EventUnused: removed because nobody used it within UseWithin.
	EventUnused EventKind = "breakglass.unused"
	// EventRecovered: removed because its creation was interrupted (crash).
	EventRecovered EventKind = "breakglass.recovered"
	// EventRemoveFailed: a removal failed; it is retried.
	EventRemoveFailed EventKind = "breakglass.remove_failed"
)

// Event is one audit record. It never carries the password.
type Event struct {
	Kind      EventKind
	Username  string
	GrantID   string
	Requester string
	// At is when it happened (Config.Clock).
	At        time.Time
	ExpiresAt time.Time
	// Err is the failure, for the *Failed kinds.
	Err string
}

// system is what the Manager needs from the operating system; one
// implementation per platform (newSystem in system_GOOS.go).
type system interface {
	// exists reports whether a user or a group called name exists (a new
	// user must clash with neither: useradd makes a group of the same name).
	exists(ctx context.Context, name string) (bool, error)
	// adminGroup names the group that makes a member administrator, or
	// returns ErrNoAdminGroup.
	adminGroup(ctx context.Context) (string, error)
	// create makes the user with its home, password and membership of
	// group. expires is a backstop the OS enforces itself where it can (the
	// account is disabled after that day even if the agent is gone).
	create(ctx context.Context, name, password, group string, expires time.Time) error
	// remove disables the user, logs it off, kills every process it runs
	// or started, and deletes it and its home. A missing user is not an
	// error.
	remove(ctx context.Context, name string) error
	// usage reports whether the user has processes now, and whether the
	// system's login records show it ever logged in.
	usage(ctx context.Context, name string) (active, loggedIn bool, err error)
}

// Manager creates and removes break-glass accounts. Safe for concurrent use.
type Manager struct {
	cfg  Config
	log  *slog.Logger
	sys  system
	loop *expiry.Loop // Create pokes it to recompute its deadline

	mu      sync.Mutex // serialises all journal and system changes
	journal *journal   // guarded by mu
}

// New checks cfg, fills defaults and prepares the state directory. It does
// not touch accounts: call Reconcile (or Run) to apply the journal.
func New(cfg Config) (*Manager, error) {
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("%w: StateDir is required", ErrConfig)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Timer == nil {
		cfg.Timer = clock.RealTimer{}
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(Event) {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: state dir: %w", ErrConfig, err)
	}
	log := cfg.Logger.With("component", "accounts")
	sys, err := newSystem(log, cfg.Root)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:     cfg,
		log:     log,
		sys:     sys,
		journal: newJournal(cfg.StateDir),
	}
	m.loop = expiry.New(cfg.Clock, cfg.Timer, cfg.PollInterval, log, m.reconcile)
	return m, nil
}

// JournalPath is where the journal is kept.
func (m *Manager) JournalPath() string { return m.journal.Path() }

// loadLocked reads the journal's accounts; m.mu is held.
func (m *Manager) loadLocked() ([]*entry, error) {
	f, err := m.journal.Load()
	if err != nil {
		return nil, err
	}
	return f.Accounts, nil
}

// saveLocked records entries durably; m.mu is held.
func (m *Manager) saveLocked(entries []*entry) error {
	return m.journal.Save(&journalFile{Accounts: entries})
}

// validText accepts audit strings: bounded, no control characters.
func validText(s string) bool {
	if len(s) > maxTextLen {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// checkSpec validates s at time now and fills the default prefix.
func (m *Manager) checkSpec(s *Spec, now time.Time) error {
	if s.Prefix == "" {
		s.Prefix = DefaultPrefix
	}
	if err := validPrefix(s.Prefix); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(s.GrantID) == "":
		return fmt.Errorf("%w: GrantID is required", ErrBadSpec)
	case !validText(s.GrantID) || !validText(s.Requester):
		return fmt.Errorf("%w: GrantID or Requester too long or has control characters", ErrBadSpec)
	case !s.ExpiresAt.After(now):
		return fmt.Errorf("%w: ExpiresAt %s is not in the future", ErrBadSpec, s.ExpiresAt.Format(time.RFC3339))
	case s.ExpiresAt.Sub(now) > m.cfg.MaxLifetime:
		return fmt.Errorf("%w: lifetime %s exceeds %s", ErrBadSpec, s.ExpiresAt.Sub(now).Round(time.Second), m.cfg.MaxLifetime)
	case s.UseWithin < 0:
		return fmt.Errorf("%w: negative UseWithin", ErrBadSpec)
	}
	return nil
}

// Create makes a new administrator account. The journal records the
// account before the system is touched and is updated after, so a crash at
// any point leaves an entry that Reconcile removes. If the account cannot be
// recorded as complete, it is removed and an error returned: a password is
// only handed out for an account the journal will expire.
func (m *Manager) Create(ctx context.Context, spec Spec) (Account, error) {
	now := m.cfg.Clock.Now()
	if err := m.checkSpec(&spec, now); err != nil {
		return Account{}, err
	}
	m.mu.Lock()
	acct, events, err := m.createLocked(ctx, spec, now)
	m.mu.Unlock()
	m.emit(events)
	if err != nil {
		return Account{}, err
	}
	m.loop.Poke()
	return acct, nil
}

func (m *Manager) createLocked(ctx context.Context, spec Spec, now time.Time) (Account, []Event, error) {
	group, err := m.sys.adminGroup(ctx)
	if err != nil {
		return Account{}, nil, err
	}
	entries, err := m.loadLocked()
	if err != nil {
		return Account{}, nil, err
	}
	name, err := m.freeName(ctx, spec.Prefix, entries)
	if err != nil {
		return Account{}, nil, err
	}
	password, err := randomPassword(rand.Reader)
	if err != nil {
		return Account{}, nil, err
	}
	e := &entry{
		Username:  name,
		GrantID:   spec.GrantID,
		Requester: spec.Requester,
		State:     stateIntent,
		CreatedAt: now,
		ExpiresAt: spec.ExpiresAt,
	}
	if spec.UseWithin > 0 {
		e.UseBy = now.Add(spec.UseWithin)
		if e.UseBy.After(e.ExpiresAt) {
			e.UseBy = e.ExpiresAt
		}
	}
	entries = append(entries, e)
	if err := m.saveLocked(entries); err != nil {
		return Account{}, nil, err // nothing created yet
	}
	fail := func(cause error) (Account, []Event, error) {
		// Undo; if undoing fails, the intent entry stays and Reconcile
		// retries.
		if rmErr := m.sys.remove(ctx, name); rmErr != nil {
			m.log.Error("remove half-created account", "user", name, "err", rmErr)
			return Account{}, []Event{m.event(EventCreateFailed, e, cause)}, cause
		}
		m.markRemoved(e, EventCreateFailed)
		if err := m.saveLocked(entries); err != nil {
			m.log.Error("journal after failed create", "user", name, "err", err)
		}
		return Account{}, []Event{m.event(EventCreateFailed, e, cause)}, cause
	}
	if err := m.sys.create(ctx, name, password, group, spec.ExpiresAt); err != nil {
		return fail(err)
	}
	e.State = stateCreated
	if err := m.saveLocked(entries); err != nil {
		e.State = stateIntent
		return fail(err)
	}
	m.log.Info("break-glass account created", "user", name, "grant_id", e.GrantID, "expires_at", e.ExpiresAt)
	return Account{
		Username:  name,
		Password:  password,
		GrantID:   e.GrantID,
		Requester: e.Requester,
		CreatedAt: e.CreatedAt,
		ExpiresAt: e.ExpiresAt,
		UseBy:     e.UseBy,
	}, []Event{m.event(EventCreated, e, nil)}, nil
}

// freeName draws random names until one is used neither by the system nor
// by the journal (a removed entry's name is not reused, so Status stays
// unambiguous).
func (m *Manager) freeName(ctx context.Context, prefix string, entries []*entry) (string, error) {
	for range nameAttempts {
		name, err := randomName(rand.Reader, prefix)
		if err != nil {
			return "", err
		}
		if find(entries, name) != nil {
			continue
		}
		taken, err := m.sys.exists(ctx, name)
		if err != nil {
			return "", err
		}
		if !taken {
			return name, nil
		}
	}
	return "", ErrNameExhausted
}

// Revoke logs the account off and deletes it now. Only accounts this
// Manager created can be revoked (ErrUnknownAccount otherwise); revoking an
// account already removed succeeds.
func (m *Manager) Revoke(ctx context.Context, username string) error {
	m.mu.Lock()
	events, err := m.revokeLocked(ctx, username)
	m.mu.Unlock()
	m.emit(events)
	return err
}

func (m *Manager) revokeLocked(ctx context.Context, username string) ([]Event, error) {
	entries, err := m.loadLocked()
	if err != nil {
		return nil, err
	}
	e := find(entries, username)
	if e == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownAccount, username)
	}
	if e.State == stateRemoved {
		return nil, nil
	}
	if err := m.sys.remove(ctx, username); err != nil {
		return []Event{m.event(EventRemoveFailed, e, err)}, err
	}
	m.markRemoved(e, EventRevoked)
	ev := m.event(EventRevoked, e, nil)
	if err := m.saveLocked(entries); err != nil {
		// The user is gone; a stale entry is only retried harmlessly.
		return []Event{ev}, err
	}
	m.log.Info("break-glass account revoked", "user", username, "grant_id", e.GrantID)
	return []Event{ev}, nil
}

// Status reports where the account is in its life; ErrUnknownAccount if
// this Manager did not create it. First use found here is recorded and
// reported as EventUsed.
func (m *Manager) Status(ctx context.Context, username string) (Status, error) {
	now := m.cfg.Clock.Now()
	m.mu.Lock()
	st, events, err := m.statusLocked(ctx, username, now)
	m.mu.Unlock()
	m.emit(events)
	return st, err
}

func (m *Manager) statusLocked(ctx context.Context, username string, now time.Time) (Status, []Event, error) {
	entries, err := m.loadLocked()
	if err != nil {
		return 0, nil, err
	}
	e := find(entries, username)
	switch {
	case e == nil:
		return 0, nil, fmt.Errorf("%w: %q", ErrUnknownAccount, username)
	case e.State == stateRemoved:
		return StatusRemoved, nil, nil
	case e.State == stateIntent:
		return StatusExpired, nil, nil
	}
	exists, err := m.sys.exists(ctx, username)
	if err != nil {
		return 0, nil, err
	}
	if !exists {
		return StatusRemoved, nil, nil
	}
	active, events, err := m.observeLocked(ctx, e, now, entries)
	if err != nil {
		return 0, events, err
	}
	switch {
	case !now.Before(e.deadline()):
		return StatusExpired, events, nil
	case active:
		return StatusActive, events, nil
	case !e.UsedAt.IsZero():
		return StatusUsed, events, nil
	}
	return StatusPending, events, nil
}

// observeLocked checks whether e's account runs or ran, records first use
// in the journal and returns whether it runs now.
func (m *Manager) observeLocked(ctx context.Context, e *entry, now time.Time, entries []*entry) (bool, []Event, error) {
	active, loggedIn, err := m.sys.usage(ctx, e.Username)
	if err != nil {
		return false, nil, err
	}
	if e.UsedAt.IsZero() && (active || loggedIn) {
		e.UsedAt = now
		if err := m.saveLocked(entries); err != nil {
			return active, nil, err
		}
		m.log.Info("break-glass account used", "user", e.Username, "grant_id", e.GrantID)
		return active, []Event{m.event(EventUsed, e, nil)}, nil
	}
	return active, nil, nil
}

// Reconcile applies the journal at time now: it removes every account
// whose ExpiresAt has passed, every account unused past its use-within
// window, and every account whose creation was interrupted; it records
// first use and prunes old removed entries. Removals that fail are reported
// (EventRemoveFailed, joined error) and retried on the next call.
func (m *Manager) Reconcile(ctx context.Context, now time.Time) error {
	_, err := m.reconcile(ctx, now)
	return err
}

// reconcile is Reconcile that also returns the earliest future deadline
// (zero if none) and whether some removal failed.
func (m *Manager) reconcile(ctx context.Context, now time.Time) (next time.Time, err error) {
	m.mu.Lock()
	next, events, err := m.reconcileLocked(ctx, now)
	m.mu.Unlock()
	m.emit(events)
	return next, err
}

func (m *Manager) reconcileLocked(ctx context.Context, now time.Time) (time.Time, []Event, error) {
	entries, err := m.loadLocked()
	if err != nil {
		return time.Time{}, nil, err
	}
	var (
		events []Event
		errs   []error
		next   time.Time
		dirty  bool
	)
	kept := entries[:0:0]
	for _, e := range entries {
		if e.State == stateRemoved {
			if now.Sub(e.RemovedAt) < removedRetention {
				kept = append(kept, e)
			} else {
				dirty = true
			}
			continue
		}
		kept = append(kept, e)
	}
	entries = kept
	for _, e := range entries {
		var reason EventKind
		switch {
		case e.State == stateRemoved:
			continue
		case e.State == stateIntent:
			reason = EventRecovered
		default:
			if e.UsedAt.IsZero() {
				_, evs, err := m.observeLocked(ctx, e, now, entries)
				events = append(events, evs...)
				if err != nil {
					errs = append(errs, fmt.Errorf("usage of %s: %w", e.Username, err))
				}
			}
			switch {
			case !now.Before(e.ExpiresAt):
				reason = EventExpired
			case !now.Before(e.deadline()):
				reason = EventUnused
			default:
				if next.IsZero() || e.deadline().Before(next) {
					next = e.deadline()
				}
				continue
			}
		}
		if err := m.sys.remove(ctx, e.Username); err != nil {
			events = append(events, m.event(EventRemoveFailed, e, err))
			errs = append(errs, fmt.Errorf("remove %s: %w", e.Username, err))
			m.log.Error("remove break-glass account", "user", e.Username, "err", err)
			continue
		}
		m.markRemoved(e, reason)
		events = append(events, m.event(reason, e, nil))
		m.log.Info("break-glass account removed", "user", e.Username, "grant_id", e.GrantID, "reason", string(reason))
		// Save after each removal so the journal is exact at every step.
		if err := m.saveLocked(entries); err != nil {
			errs = append(errs, err)
		}
		dirty = false
	}
	if dirty {
		if err := m.saveLocked(entries); err != nil {
			errs = append(errs, err)
		}
	}
	return next, events, errors.Join(errs...)
}

// Run reconciles at once, then whenever the earliest deadline comes, a new
// account is created or PollInterval passes, until ctx ends (it then
// returns nil). It needs no broker: an offline machine removes accounts on
// time. Errors are logged and retried.
func (m *Manager) Run(ctx context.Context) error { return m.loop.Run(ctx) }

// markRemoved records e's removal.
func (m *Manager) markRemoved(e *entry, reason EventKind) {
	e.State = stateRemoved
	e.RemovedAt = m.cfg.Clock.Now()
	e.Reason = reason
}

// event builds the audit event for e.
func (m *Manager) event(kind EventKind, e *entry, err error) Event {
	ev := Event{
		Kind:      kind,
		Username:  e.Username,
		GrantID:   e.GrantID,
		Requester: e.Requester,
		At:        m.cfg.Clock.Now(),
		ExpiresAt: e.ExpiresAt,
	}
	if err != nil {
		ev.Err = err.Error()
	}
	return ev
}

// emit delivers events in order, outside the lock.
func (m *Manager) emit(events []Event) {
	for _, ev := range events {
		m.cfg.OnEvent(ev)
	}
}

// find returns the entry for name, or nil.
func find(entries []*entry, name string) *entry {
	for _, e := range entries {
		if e.Username == name {
			return e
		}
	}
	return nil
}
