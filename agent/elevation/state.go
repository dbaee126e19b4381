package elevation

import (
	"path/filepath"
	"time"

	"porthole/internal/durable"
	"porthole/internal/elevcode"
)

// StateFile is the journal's name inside Config.StateDir. One file holds
// the grants, the redeemed codes and the guessing limiter, so they change
// together atomically.
const StateFile = "elevation.json"

const stateVersion = 1

// grantState is where a grant is in its life. The journal is written before
// the system is changed, so after a crash the state says the most that may
// have happened.
type grantState string

const (
	// stateIntent: journalled; the drop-in may or may not exist.
	// Reconcile revokes it (fail closed).
	stateIntent grantState = "intent"
	// stateActive: the user holds admin rights until Until.
	stateActive grantState = "active"
	// stateEnded: rights were removed; kept a while for the record.
	stateEnded grantState = "ended"
)

// grantEntry is one elevation session in the journal.
type grantEntry struct {
	SessionID string     `json:"session_id"`
	User      string     `json:"user"`
	UID       string     `json:"uid"`
	State     grantState `json:"state"`
	GrantedAt time.Time  `json:"granted_at"`
	Until     time.Time  `json:"until"`
	// CodeKey is elevcode.Grant.Key of the code redeemed last (not secret).
	CodeKey string    `json:"code_key,omitempty"`
	EndedAt time.Time `json:"ended_at,omitzero"`
	Reason  EventKind `json:"reason,omitempty"`
}

// limiter counts wrong codes across restarts.
type limiter struct {
	Failures     int       `json:"failures"`
	LastFailure  time.Time `json:"last_failure,omitzero"`
	BlockedUntil time.Time `json:"blocked_until,omitzero"`
}

// Guessing limits.
const (
	// FreeFailures is how many wrong codes are allowed before a lock-out.
	FreeFailures = 5
	// BaseLockout is the first lock-out; each further wrong code doubles it.
	BaseLockout = 30 * time.Second
	// MaxLockout caps the lock-out.
	MaxLockout = time.Hour
	// failureMemory is how long after the last wrong code the count resets.
	failureMemory = 24 * time.Hour
)

// fail records a wrong code at now.
func (l *limiter) fail(now time.Time) {
	if now.Sub(l.LastFailure) > failureMemory {
		l.Failures = 0
	}
	l.Failures++
	l.LastFailure = now
	if l.Failures >= FreeFailures {
		d := MaxLockout
		if shift := l.Failures - FreeFailures; shift < 8 {
			d = min(BaseLockout<<shift, MaxLockout)
		}
		l.BlockedUntil = now.Add(d)
	}
}

// state is the journal's content (durable.Journal adds the version).
type state struct {
	Grants  []*grantEntry    `json:"grants"`
	Used    elevcode.UsedSet `json:"used"`
	Limiter limiter          `json:"limiter"`
}

// find returns the grant of user that is not ended, or nil.
func (s *state) find(user string) *grantEntry {
	for _, g := range s.Grants {
		if g.User == user && g.State != stateEnded {
			return g
		}
	}
	return nil
}

// journal is the fsynced intent journal (durable.Journal), written before
// the system is changed. Manager serialises access with its mutex.
type journal = durable.Journal[state]

// newJournal is the journal of stateDir. Its errors wrap ErrJournal.
func newJournal(stateDir string) *journal {
	return durable.NewJournal[state](filepath.Join(stateDir, StateFile), stateVersion, ErrJournal)
}
