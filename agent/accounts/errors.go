package accounts

import "errors"

// Sentinel errors. Callers (the agent's break-glass handler) map them to the
// answer the broker shows the portal user.
var (
	// ErrBadSpec means the request was malformed: no grant id, an expiry
	// in the past or beyond MaxLifetime, a negative use-within window or an
	// invalid username prefix.
	ErrBadSpec = errors.New("accounts: invalid account spec")
	// ErrNoAdminGroup means the machine has no administrator group (Linux:
	// neither "sudo" nor "wheel"); no account is created.
	ErrNoAdminGroup = errors.New("accounts: no administrator group on this machine")
	// ErrMissingTool means a system program the platform needs (useradd,
	// userdel, chpasswd, pkill…) is not installed.
	ErrMissingTool = errors.New("accounts: required system tool not found")
	// ErrUnknownAccount means the username is not one this agent created;
	// the manager never touches accounts it did not create.
	ErrUnknownAccount = errors.New("accounts: account not created by this agent")
	// ErrNameExhausted means no free random username was found, which only
	// happens when the user database is broken or the prefix is too long.
	ErrNameExhausted = errors.New("accounts: could not find a free username")
	// ErrSystem means a system command failed (useradd, chpasswd, userdel…).
	ErrSystem = errors.New("accounts: system command failed")
	// ErrJournal means the journal could not be read or written. Create
	// fails closed on it: an account the journal does not know about could
	// outlive its expiry.
	ErrJournal = errors.New("accounts: journal")
	// ErrConfig means the Config is unusable (no StateDir).
	ErrConfig = errors.New("accounts: invalid config")
)
