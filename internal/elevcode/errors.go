package elevcode

import "errors"

// Sentinel errors, matched with errors.Is. The agent maps each to its own
// message for the end user ("that code was already used"…), and counts only
// ErrBadCode against the guessing limit.
var (
	// ErrMalformed means the text is not a code at all: wrong length or a
	// character outside the alphabet. It cannot be a guess of a valid code.
	ErrMalformed = errors.New("elevcode: not a valid code format")
	// ErrBadCode means the code is well formed but its signature does not
	// match this device and user: a typo, a guess, or a code issued for
	// another device or another user.
	ErrBadCode = errors.New("elevcode: code is not valid for this device or user")
	// ErrExpired means the code is genuine but outside its issue window
	// (too old, or issued in the future beyond the allowed clock skew).
	ErrExpired = errors.New("elevcode: code has expired")
	// ErrUsed means the code is genuine and in its window but was already
	// redeemed; codes are single use.
	ErrUsed = errors.New("elevcode: code was already used")
	// ErrClaims means Issue was asked for something a code cannot carry
	// (duration not a multiple of 5 minutes or too long, nonce too large,
	// empty device id, issue time before the epoch).
	ErrClaims = errors.New("elevcode: invalid claims")
	// ErrSecret means the device secret is missing or too short.
	ErrSecret = errors.New("elevcode: device secret too short")
)
