// Package elevation makes a local user an administrator for a while when
// they type a temporary admin code, takes the right away on time even
// across agent restarts, and records every process that runs elevated on
// the user's behalf meanwhile.
//
// Codes are verified offline with internal/elevcode and the device secret
// from enrollment; each code works once (redeemed codes are kept in the
// journal until they would have expired anyway) and wrong codes are rate
// limited (FreeFailures, then a doubling lock-out), both persisted so that a
// restart neither replays a code nor resets the limit.
//
// A grant is journalled (fsync + rename) before the system is touched.
// Linux grants with a sudoers drop-in /etc/sudoers.d/porthole-USER (mode
// 0440, checked with `visudo -cf` before it is moved into place); Windows
// adds the user's SID to the local Administrators group (found by its
// well-known SID, never by its localised name; wingroup.go) and macOS to
// the admin group. Run revokes at Until; Reconcile, at start, revokes what
// is past due or interrupted, and what the platform still shows as granted
// by porthole although the journal holds no running grant for it (Linux: a
// porthole drop-in; Windows: a group member whose grant the journal
// records as porthole's). A user who was an administrator before is never
// granted, so never revoked: members that are not porthole's are never
// touched.
//
// While a grant is active, a recorder polls (Config.RecordInterval,
// default 500 ms) for processes running elevated on behalf of the user and
// reports their start, exec and exit through Config.OnEvent with secrets in
// arguments redacted. Linux reads /proc for processes with effective uid 0
// (proc_uid.go); Windows lists processes with NtQuerySystemInformation and
// reads the token of each new one: token user the user's SID and
// TokenElevation set (proc_token.go). Polling misses processes shorter than
// the interval; the kernel audit subsystem (execve rules keyed on auid), or
// on Windows ETW process events / Security event 4688, would see every one.
//
// The OS work sits behind two small interfaces this package consumes, one
// implementation per OS: system (grant, revoke, lookup; system_GOOS.go,
// built by newSystem) and procSource (the elevated-process watcher;
// proc_GOOS.go, built by newProcSource). Where a platform cannot record
// elevated processes yet (macOS), New fails with ErrUnsupported: no grant
// goes unrecorded.
package elevation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"porthole/agent/expiry"
	"porthole/internal/clock"
	"porthole/internal/elevcode"
)

// Defaults for Config.
const (
	// DefaultMaxDuration caps a grant at the agent whatever the code says.
	DefaultMaxDuration = elevcode.MaxDuration
	// DefaultPollInterval is the longest sleep of Run's expiry loop, so
	// wall-clock jumps (suspend, NTP) are noticed.
	DefaultPollInterval = 30 * time.Second
	// DefaultRecordInterval is how often /proc is scanned during a grant.
	DefaultRecordInterval = 500 * time.Millisecond
	// DefaultSecretPattern finds secrets in command-line arguments.
	DefaultSecretPattern = `(?i)(password|passwd|pwd|token|secret|api[_-]?key)=\S+`
	// DefaultSecretReplacement replaces each match of the secret pattern.
	DefaultSecretReplacement = "${1}=[REDACTED]"
	// endedRetention is how long ended grants stay in the journal.
	endedRetention = 30 * 24 * time.Hour
)

// Timer gives the channels Run waits on; tests drive it (clocktest.TimerClock).
type Timer = clock.Timer

// Config configures a Manager.
type Config struct {
	// StateDir holds the journal (StateFile). Required; created 0700.
	StateDir string
	// DeviceID and Secret come from enrollment (identity.Identity).
	// Required: codes are verified against them.
	DeviceID string
	Secret   []byte
	// CodeWindow is how long after issue a code is accepted; default
	// elevcode.DefaultWindow.
	CodeWindow time.Duration
	// MaxDuration caps a grant; default DefaultMaxDuration.
	MaxDuration time.Duration
	// Clock tells the time for codes and deadlines; default clock.Real.
	Clock clock.Clock
	// Timer is what Run's expiry loop sleeps on; default time.After.
	Timer Timer
	// OnEvent receives audit and process events in order, outside the
	// Manager's lock; it should queue them for the broker and return
	// quickly. Default: dropped.
	OnEvent func(Event)
	// Logger for operational logs (never codes); default discards.
	Logger *slog.Logger
	// PollInterval bounds Run's sleep; default DefaultPollInterval.
	PollInterval time.Duration
	// RecordInterval is the /proc scan period; default DefaultRecordInterval.
	RecordInterval time.Duration
	// SecretPattern and SecretReplacement redact arguments of recorded
	// processes (regexp.ReplaceAllString); defaults DefaultSecretPattern
	// and DefaultSecretReplacement.
	SecretPattern     string
	SecretReplacement string
	// SudoersDir is where Linux drop-ins go; default /etc/sudoers.d.
	SudoersDir string
	// AskPassword makes sudo ask for the user's own password during the
	// grant; by default the drop-in says NOPASSWD (the code was the proof).
	AskPassword bool
}

// Session is an active elevation.
type Session struct {
	// ID names the session in events and on the broker.
	ID    string
	User  string
	Until time.Time
}

// EventKind says what happened.
type EventKind string

// Event kinds.
const (
	// EventGranted: the user is administrator until Until (also sent when
	// a second code extends a running session).
	EventGranted EventKind = "elevation.granted"
	// EventDenied: a code was refused; Reason says why.
	EventDenied EventKind = "elevation.denied"
	// EventExpired: rights removed at Until.
	EventExpired EventKind = "elevation.expired"
	// EventRevoked: rights removed early by Revoke.
	EventRevoked EventKind = "elevation.revoked"
	// EventRecovered: a grant interrupted by a crash was rolled back.
	EventRecovered EventKind = "elevation.recovered"
	// EventOrphanRemoved: a porthole drop-in the journal did not know was
	// removed.
	EventOrphanRemoved EventKind = "elevation.orphan_removed"
	// EventRevokeFailed: removing rights failed; it is retried.
	EventRevokeFailed EventKind = "elevation.revoke_failed"
	// EventProcessStart: an elevated process was first seen.
	EventProcessStart EventKind = "elevation.process_start"
	// EventProcessExec: a recorded process exec'd another program.
	EventProcessExec EventKind = "elevation.process_exec"
	// EventProcessExit: a recorded process is gone (or no longer elevated).
	EventProcessExit EventKind = "elevation.process_exit"
)

// Denial reasons in Event.Reason.
const (
	ReasonMalformed   = "malformed"
	ReasonBadCode     = "bad_code"
	ReasonExpired     = "expired"
	ReasonUsed        = "used"
	ReasonRateLimited = "rate_limited"
	ReasonBadUser     = "bad_user"
)

// Event is one audit or process record. ID is random and unique, so the
// broker can drop duplicates of an event delivered twice.
type Event struct {
	ID        string
	Kind      EventKind
	SessionID string
	User      string
	At        time.Time
	// Until is the grant's end, for grant events.
	Until time.Time
	// Reason is set on EventDenied.
	Reason string
	// Err is the failure text for EventRevokeFailed and EventDenied.
	Err string
	// Process is set on the process kinds.
	Process *Process
	// CodeIssuedAt and CodeNonce identify the redeemed code on
	// EventGranted (the broker audits both when it issues a code); never
	// the code itself.
	CodeIssuedAt time.Time
	CodeNonce    int
	// SelfApproved marks an EventGranted without a code (SelfApprove);
	// Note is the user's reason.
	SelfApproved bool
	Note         string
}

// Process is an elevated process as the recorder saw it.
type Process struct {
	PID  int
	PPID int
	// UID is the real uid, EUID the effective one (0); LoginUID is the
	// audit login uid, -1 when unset. All three are -1 on Windows.
	UID, EUID, LoginUID int
	// SID is the token user on Windows (empty elsewhere).
	SID string
	Exe string
	// Args is the command line with secrets redacted and long arguments
	// truncated.
	Args []string
	// StartedAt is the kernel's start time of the process.
	StartedAt time.Time
}

// system is what the Manager needs from the platform (system_GOOS.go).
type system interface {
	// lookup returns the user's uid (Linux, macOS) or SID (Windows), or
	// an error wrapping ErrBadUser.
	lookup(ctx context.Context, user string) (string, error)
	// grant gives user admin rights; until is informational (written into
	// the drop-in's comment). An error wrapping errAlreadyAdmin means the
	// user held the rights already, not through this grant, and nothing
	// was changed.
	grant(ctx context.Context, user, uid string, until time.Time) error
	// revoke takes them away; a user without them is not an error. uid is
	// what lookup gave at the grant ("" if unknown).
	revoke(ctx context.Context, user, uid string) error
	// granted lists users holding porthole-made rights now, as far as the
	// platform can tell, and removes leftover temporary files. ours maps
	// the users the journal says porthole granted (ended grants aside) to
	// their uid: Linux ignores it (the porthole- drop-ins are porthole's by
	// name), Windows checks which of them are still group members.
	granted(ctx context.Context, ours map[string]string) ([]string, error)
}

// Manager grants and revokes elevation. Safe for concurrent use.
type Manager struct {
	cfg  Config
	log  *slog.Logger
	sys  system
	rec  *recorder
	loop *expiry.Loop // Elevate and SelfApprove poke it about new deadlines

	mu      sync.Mutex // serialises journal and system changes
	journal *journal
	// previous is the device key before a rotation the broker has not yet
	// confirmed; codes of it still verify until then (SetKeys). Guarded
	// by mu, like cfg.Secret.
	previous []byte
}

// New checks cfg, fills defaults and prepares the state dir. It changes
// nothing on the system: call Reconcile (Run does) to apply the journal.
func New(cfg Config) (*Manager, error) {
	switch {
	case cfg.StateDir == "":
		return nil, fmt.Errorf("%w: StateDir is required", ErrConfig)
	case cfg.DeviceID == "":
		return nil, fmt.Errorf("%w: DeviceID is required", ErrConfig)
	case len(cfg.Secret) < elevcode.MinSecretLen:
		return nil, fmt.Errorf("%w: device secret missing or too short (re-enroll)", ErrConfig)
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
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = DefaultMaxDuration
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.RecordInterval <= 0 {
		cfg.RecordInterval = DefaultRecordInterval
	}
	if cfg.SecretPattern == "" {
		cfg.SecretPattern = DefaultSecretPattern
	}
	if cfg.SecretReplacement == "" {
		cfg.SecretReplacement = DefaultSecretReplacement
	}
	pattern, err := regexp.Compile(cfg.SecretPattern)
	if err != nil {
		return nil, fmt.Errorf("%w: SecretPattern: %w", ErrConfig, err)
	}
	if cfg.SudoersDir == "" {
		cfg.SudoersDir = "/etc/sudoers.d"
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: state dir: %w", ErrConfig, err)
	}
	log := cfg.Logger.With("component", "elevation")
	sys, err := newSystem(cfg, log)
	if err != nil {
		return nil, err
	}
	// No grant without its record: where elevated processes cannot be
	// watched, elevation is refused here rather than granted unrecorded.
	procs, err := newProcSource()
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
	m.rec = newRecorder(recorderConfig{
		src:         procs,
		clock:       cfg.Clock,
		interval:    cfg.RecordInterval,
		pattern:     pattern,
		replacement: cfg.SecretReplacement,
		emit:        func(ev Event) { ev.ID = newID(); cfg.OnEvent(ev) },
		log:         log,
	})
	return m, nil
}

// JournalPath is where the journal is kept.
func (m *Manager) JournalPath() string { return m.journal.Path() }

// Elevate verifies code for user and makes user an administrator for the
// duration the code carries (capped by MaxDuration). A code for a user who
// is already elevated extends the session. Refusals wrap ErrDenied and the
// elevcode reason (ErrMalformed, ErrBadCode, ErrExpired, ErrUsed), or are
// ErrRateLimited or ErrBadUser.
func (m *Manager) Elevate(ctx context.Context, user, code string) (Session, error) {
	m.mu.Lock()
	s, events, err := m.elevateLocked(ctx, user, code)
	m.mu.Unlock()
	m.emit(events)
	if err == nil {
		m.loop.Poke()
	}
	return s, err
}

func (m *Manager) elevateLocked(ctx context.Context, user, code string) (Session, []Event, error) {
	now := m.cfg.Clock.Now()
	deny := func(reason string, err error) (Session, []Event, error) {
		m.log.Info("elevation code refused", "user", user, "reason", reason)
		return Session{}, []Event{m.event(EventDenied, &grantEntry{User: user}, func(e *Event) { e.Reason = reason; e.Err = err.Error() })}, err
	}
	if !validUser(user) {
		return deny(ReasonBadUser, fmt.Errorf("%w: %q", ErrBadUser, user))
	}
	uid, err := m.sys.lookup(ctx, user)
	if err != nil {
		return deny(ReasonBadUser, err)
	}
	st, err := m.journal.Load()
	if err != nil {
		return Session{}, nil, err
	}
	if now.Before(st.Limiter.BlockedUntil) {
		return deny(ReasonRateLimited, fmt.Errorf("%w (after %s)", ErrRateLimited, st.Limiter.BlockedUntil.Local().Format(time.TimeOnly)))
	}
	g, err := m.verifyLocked(user, code, now)
	switch {
	case errors.Is(err, elevcode.ErrBadCode):
		st.Limiter.fail(now)
		if serr := m.journal.Save(st); serr != nil {
			return Session{}, nil, serr // fail closed: an unrecorded failure must not be free
		}
		return deny(ReasonBadCode, fmt.Errorf("%w: %w", ErrDenied, err))
	case errors.Is(err, elevcode.ErrMalformed):
		return deny(ReasonMalformed, fmt.Errorf("%w: %w", ErrDenied, err))
	case errors.Is(err, elevcode.ErrExpired):
		return deny(ReasonExpired, fmt.Errorf("%w: %w", ErrDenied, err))
	case err != nil:
		return Session{}, nil, err
	}
	st.Used.Prune(now)
	if err := st.Used.Redeem(g); err != nil {
		return deny(ReasonUsed, fmt.Errorf("%w: %w", ErrDenied, err))
	}
	st.Limiter = limiter{}
	return m.grantLocked(ctx, st, user, uid, now, g.Duration, func(e *grantEntry, ev *Event) {
		e.CodeKey = g.Key
		ev.CodeIssuedAt, ev.CodeNonce = g.IssuedAt, int(g.Nonce)
	})
}

// SelfApprove makes user an administrator for d (capped by MaxDuration)
// without a code, because the caller decided the user may approve
// themselves (elevation.self_approve_groups); note is the user's reason,
// carried by the EventGranted. Errors: ErrBadUser, ErrJournal, ErrSystem.
func (m *Manager) SelfApprove(ctx context.Context, user, note string, d time.Duration) (Session, error) {
	m.mu.Lock()
	s, events, err := m.selfApproveLocked(ctx, user, note, d)
	m.mu.Unlock()
	m.emit(events)
	if err == nil {
		m.loop.Poke()
	}
	return s, err
}

func (m *Manager) selfApproveLocked(ctx context.Context, user, note string, d time.Duration) (Session, []Event, error) {
	if !validUser(user) {
		return Session{}, nil, fmt.Errorf("%w: %q", ErrBadUser, user)
	}
	uid, err := m.sys.lookup(ctx, user)
	if err != nil {
		return Session{}, nil, err
	}
	st, err := m.journal.Load()
	if err != nil {
		return Session{}, nil, err
	}
	return m.grantLocked(ctx, st, user, uid, m.cfg.Clock.Now(), d, func(_ *grantEntry, ev *Event) {
		ev.SelfApproved, ev.Note = true, note
	})
}

// grantLocked journals the grant (a new session, or an extension of the
// user's running one), changes the system and starts recording. mark adds
// what the grant's journal entry and event should say about its origin.
func (m *Manager) grantLocked(ctx context.Context, st *state, user, uid string, now time.Time, d time.Duration,
	mark func(*grantEntry, *Event)) (Session, []Event, error) {
	until := now.Add(min(d, m.cfg.MaxDuration))
	e := st.find(user)
	fresh := e == nil
	if fresh {
		e = &grantEntry{SessionID: newID(), User: user, UID: uid, State: stateIntent, GrantedAt: now}
		st.Grants = append(st.Grants, e)
	}
	if until.After(e.Until) {
		e.Until = until
	}
	granted := m.event(EventGranted, e, nil)
	mark(e, &granted)
	// The code is spent and the intent recorded before the system changes.
	if err := m.journal.Save(st); err != nil {
		return Session{}, nil, err
	}
	err := m.sys.grant(ctx, user, uid, e.Until)
	if errors.Is(err, errAlreadyAdmin) {
		if !fresh {
			// Rights this journal already holds as porthole's (an
			// extension, or a grant interrupted after the system change).
			err = nil
		} else {
			// Not porthole's: never revoke them. The entry goes, the code
			// stays spent.
			st.Grants = slices.DeleteFunc(st.Grants, func(g *grantEntry) bool { return g == e })
			if serr := m.journal.Save(st); serr != nil {
				return Session{}, nil, serr
			}
			m.log.Info("elevation refused: already an administrator", "user", user)
			err = fmt.Errorf("%w: %w", ErrBadUser, err)
			return Session{}, []Event{m.event(EventDenied, &grantEntry{User: user}, func(ev *Event) {
				ev.Reason, ev.Err = ReasonBadUser, err.Error()
			})}, err
		}
	}
	if err != nil {
		if e.State == stateIntent {
			if rerr := m.sys.revoke(ctx, user, uid); rerr == nil {
				m.markEnded(e, EventRecovered)
				if serr := m.journal.Save(st); serr != nil {
					m.log.Error("journal after failed grant", "user", user, "err", serr)
				}
			}
		}
		return Session{}, nil, err
	}
	e.State = stateActive
	if err := m.journal.Save(st); err != nil {
		// Stays "intent" on disk: Reconcile will revoke it. Do it now.
		if rerr := m.sys.revoke(ctx, user, uid); rerr != nil {
			m.log.Error("revoke after journal failure", "user", user, "err", rerr)
		}
		return Session{}, nil, err
	}
	m.rec.watch(e.SessionID, user, uid)
	m.log.Info("elevation granted", "user", user, "session_id", e.SessionID, "until", e.Until, "self_approved", granted.SelfApproved)
	granted.Until = e.Until
	return Session{ID: e.SessionID, User: user, Until: e.Until}, []Event{granted}, nil
}

// Revoke takes the user's rights away now. ErrUnknownUser if this agent
// has no active grant for user.
func (m *Manager) Revoke(ctx context.Context, user string) error {
	m.mu.Lock()
	events, err := m.revokeLocked(ctx, user)
	m.mu.Unlock()
	m.emit(events)
	return err
}

func (m *Manager) revokeLocked(ctx context.Context, user string) ([]Event, error) {
	st, err := m.journal.Load()
	if err != nil {
		return nil, err
	}
	e := st.find(user)
	if e == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownUser, user)
	}
	if err := m.sys.revoke(ctx, user, e.UID); err != nil {
		return []Event{m.event(EventRevokeFailed, e, func(ev *Event) { ev.Err = err.Error() })}, err
	}
	m.markEnded(e, EventRevoked)
	m.rec.unwatch(e.SessionID)
	m.log.Info("elevation revoked", "user", user, "session_id", e.SessionID)
	return []Event{m.event(EventRevoked, e, nil)}, m.journal.Save(st)
}

// Sessions lists the active elevations.
func (m *Manager) Sessions() ([]Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, err := m.journal.Load()
	if err != nil {
		return nil, err
	}
	var out []Session
	for _, e := range st.Grants {
		if e.State == stateActive {
			out = append(out, Session{ID: e.SessionID, User: e.User, Until: e.Until})
		}
	}
	return out, nil
}

// Reconcile applies the journal at now: it revokes grants past Until and
// grants whose creation was interrupted, removes porthole drop-ins the
// journal does not hold as active, prunes redeemed codes and old entries,
// and makes the recorder watch the grants still running. Failures are
// reported (EventRevokeFailed, joined error) and retried next time.
func (m *Manager) Reconcile(ctx context.Context, now time.Time) error {
	_, err := m.reconcile(ctx, now)
	return err
}

func (m *Manager) reconcile(ctx context.Context, now time.Time) (time.Time, error) {
	m.mu.Lock()
	next, events, err := m.reconcileLocked(ctx, now)
	m.mu.Unlock()
	m.emit(events)
	return next, err
}

func (m *Manager) reconcileLocked(ctx context.Context, now time.Time) (time.Time, []Event, error) {
	st, err := m.journal.Load()
	if err != nil {
		return time.Time{}, nil, err
	}
	var (
		events []Event
		errs   []error
		next   time.Time
	)
	dirty := st.Used.Prune(now) > 0
	kept := st.Grants[:0:0]
	for _, e := range st.Grants {
		if e.State == stateEnded && now.Sub(e.EndedAt) > endedRetention {
			dirty = true
			continue
		}
		kept = append(kept, e)
	}
	st.Grants = kept
	active := map[string]bool{}
	ours := map[string]string{}
	for _, e := range st.Grants {
		if e.State != stateEnded {
			ours[e.User] = e.UID
		}
	}
	for _, e := range st.Grants {
		var reason EventKind
		switch {
		case e.State == stateEnded:
			continue
		case e.State == stateIntent:
			reason = EventRecovered
		case !now.Before(e.Until):
			reason = EventExpired
		default:
			active[e.User] = true
			m.rec.watch(e.SessionID, e.User, e.UID)
			if next.IsZero() || e.Until.Before(next) {
				next = e.Until
			}
			continue
		}
		if err := m.sys.revoke(ctx, e.User, e.UID); err != nil {
			active[e.User] = true // do not count it as an orphan too
			events = append(events, m.event(EventRevokeFailed, e, func(ev *Event) { ev.Err = err.Error() }))
			errs = append(errs, fmt.Errorf("revoke %s: %w", e.User, err))
			continue
		}
		m.markEnded(e, reason)
		m.rec.unwatch(e.SessionID)
		events = append(events, m.event(reason, e, nil))
		m.log.Info("elevation ended", "user", e.User, "session_id", e.SessionID, "reason", string(reason))
		if err := m.journal.Save(st); err != nil {
			errs = append(errs, err)
		}
		dirty = false
	}
	users, err := m.sys.granted(ctx, ours)
	if err != nil {
		errs = append(errs, err)
	}
	for _, u := range users {
		if active[u] {
			continue
		}
		orphan := &grantEntry{User: u}
		if err := m.sys.revoke(ctx, u, ours[u]); err != nil {
			events = append(events, m.event(EventRevokeFailed, orphan, func(ev *Event) { ev.Err = err.Error() }))
			errs = append(errs, fmt.Errorf("remove orphan grant of %s: %w", u, err))
			continue
		}
		m.log.Warn("removed porthole grant missing from the journal", "user", u)
		events = append(events, m.event(EventOrphanRemoved, orphan, nil))
	}
	if dirty {
		if err := m.journal.Save(st); err != nil {
			errs = append(errs, err)
		}
	}
	return next, events, errors.Join(errs...)
}

// Run reconciles at once, then at every grant's Until, after each Elevate
// and at least every PollInterval; meanwhile it records elevated processes.
// It returns nil when ctx ends, after its goroutines have stopped. No broker
// is needed: an offline machine revokes on time.
func (m *Manager) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.rec.run(ctx) })
	g.Go(func() error { return m.loop.Run(ctx) })
	return g.Wait()
}

// markEnded records e's end.
func (m *Manager) markEnded(e *grantEntry, reason EventKind) {
	e.State = stateEnded
	e.EndedAt = m.cfg.Clock.Now()
	e.Reason = reason
}

// event builds an event about e; edit fills the kind's extra fields.
func (m *Manager) event(kind EventKind, e *grantEntry, edit func(*Event)) Event {
	ev := Event{
		ID:        newID(),
		Kind:      kind,
		SessionID: e.SessionID,
		User:      e.User,
		At:        m.cfg.Clock.Now(),
		Until:     e.Until,
	}
	if edit != nil {
		edit(&ev)
	}
	return ev
}

// emit delivers events in order, outside the lock.
func (m *Manager) emit(events []Event) {
	for _, ev := range events {
		m.cfg.OnEvent(ev)
	}
}

// newID is 128 random bits in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// validUser accepts local and directory-style user names that are safe in
// a file name and a sudoers comment: letters, digits, '_', '-', '.', '@',
// not starting with '-' or '.', at most 64 bytes.
func validUser(u string) bool {
	if u == "" || len(u) > 64 || u[0] == '-' || u[0] == '.' {
		return false
	}
	for _, r := range u {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '_' || r == '-' || r == '.' || r == '@':
		default:
			return false
		}
	}
	return true
}
