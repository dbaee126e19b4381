package sso

import "errors"

// Errors of sign-in, matched with errors.Is. The API shows each one's text
// to the user (none carries a token or a secret).
var (
	// ErrUnknownProvider: no configured provider has that id.
	ErrUnknownProvider = errors.New("no such identity provider")
	// ErrNoFlow: the callback has no sign-in of this browser waiting for it
	// (expired, used already, started in another browser, or never started).
	ErrNoFlow = errors.New("this sign-in expired or was already used: start again")
	// ErrState: the callback's state is not the one this browser's sign-in sent.
	ErrState = errors.New("the sign-in's state does not match: start again")
	// ErrIdP: the identity provider refused or failed the sign-in.
	ErrIdP = errors.New("the identity provider did not sign you in")
	// ErrToken: the ID token failed verification (signature, issuer,
	// audience, expiry, nonce, auth_time).
	ErrToken = errors.New("the identity provider's answer failed verification")
	// ErrRefused: the identity is valid but may not sign in (no mapped
	// group, a name that cannot be a Porthole username, a local account
	// with that name, a disabled account).
	ErrRefused = errors.New("sign-in refused")
	// ErrBusy: too many sign-ins are in progress.
	ErrBusy = errors.New("too many sign-ins in progress, try again in a minute")
	// ErrConfig: the providers file is invalid.
	ErrConfig = errors.New("identity provider configuration")
)
