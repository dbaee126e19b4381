package elevation

import "errors"

// Sentinel errors. A failed code is also wrapped around the matching
// elevcode error (ErrMalformed, ErrBadCode, ErrExpired, ErrUsed), so the
// dialog and `porthole-agent elevate` can say exactly what went wrong.
var (
	// ErrDenied wraps every refusal of a code; errors.Is it with the
	// elevcode sentinels for the reason.
	ErrDenied = errors.New("elevation: code refused")
	// ErrRateLimited means too many wrong codes were entered recently; the
	// error text says when to try again. The lock-out survives restarts.
	ErrRateLimited = errors.New("elevation: too many wrong codes, try again later")
	// ErrBadUser means the user name is not acceptable or not a local user.
	ErrBadUser = errors.New("elevation: unknown or invalid user")
	// ErrUnknownUser means Revoke was asked about a user this agent did
	// not elevate.
	ErrUnknownUser = errors.New("elevation: user is not elevated by this agent")
	// ErrMissingTool means a system program is missing (Linux: visudo from
	// the Debian package sudo).
	ErrMissingTool = errors.New("elevation: required system tool not found")
	// ErrInvalidSudoers means visudo refused the drop-in; nothing was
	// installed.
	ErrInvalidSudoers = errors.New("elevation: generated sudoers drop-in failed validation")
	// ErrSystem means granting or revoking rights failed.
	ErrSystem = errors.New("elevation: system change failed")
	// ErrJournal means the state file could not be read or written; the
	// Manager fails closed (no rights granted that it could not revoke).
	ErrJournal = errors.New("elevation: journal")
	// ErrConfig means the Config is unusable.
	ErrConfig = errors.New("elevation: invalid config")
	// errAlreadyAdmin is wrapped by system.grant when the user is an
	// administrator already, not by porthole's grant (Windows: a member
	// of Administrators). The Manager refuses such a grant with ErrBadUser
	// and never revokes rights it did not give.
	errAlreadyAdmin = errors.New("elevation: already an administrator")
	// ErrUnsupported means elevated processes cannot be recorded on this
	// platform; New refuses, since DESIGN promises every elevated process
	// is recorded.
	ErrUnsupported = errors.New("elevation: not supported on this platform")
)
