package accounts

import (
	"path/filepath"
	"time"

	"porthole/internal/durable"
)

// JournalFile is the journal's name inside Config.StateDir.
const JournalFile = "breakglass.json"

// journalVersion is written into the file so a future format can be told apart.
const journalVersion = 1

// entryState is where an account is in its life. The journal is written
// before every step that changes the system, so after a crash the state
// says the most that may have happened.
type entryState string

const (
	// stateIntent: the entry was written and the user may or may not exist
	// (crash during creation). Reconcile removes it.
	stateIntent entryState = "intent"
	// stateCreated: the user exists with its password and admin rights.
	stateCreated entryState = "created"
	// stateRemoved: the user was deleted; kept for Status and pruned later.
	stateRemoved entryState = "removed"
)

// entry is one account in the journal. It never holds the password.
type entry struct {
	Username  string     `json:"username"`
	GrantID   string     `json:"grant_id"`
	Requester string     `json:"requester,omitempty"`
	State     entryState `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	// UseBy is when an account never used is removed; zero means no
	// use-within window.
	UseBy     time.Time `json:"use_by,omitzero"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	RemovedAt time.Time `json:"removed_at,omitzero"`
	// Reason says why it was removed (an EventKind).
	Reason EventKind `json:"reason,omitempty"`
}

// deadline is when the entry must be gone.
func (e *entry) deadline() time.Time {
	if !e.UseBy.IsZero() && e.UsedAt.IsZero() && e.UseBy.Before(e.ExpiresAt) {
		return e.UseBy
	}
	return e.ExpiresAt
}

// journalFile is the journal's content (durable.Journal adds the version).
type journalFile struct {
	Accounts []*entry `json:"accounts"`
}

// journal is the fsynced intent journal (durable.Journal), written before
// every step that changes the system. Manager serialises access with its
// mutex.
type journal = durable.Journal[journalFile]

// newJournal is the journal of stateDir. Its errors wrap ErrJournal.
func newJournal(stateDir string) *journal {
	return durable.NewJournal[journalFile](filepath.Join(stateDir, JournalFile), journalVersion, ErrJournal)
}
