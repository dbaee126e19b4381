package secretbox

import "errors"

// Errors matched with errors.Is.
var (
	// ErrBadKey reports a key that is not 32 bytes of standard base64, in the
	// environment or in the key file.
	ErrBadKey = errors.New("secretbox: key must be 32 bytes, base64 encoded")
	// ErrKeyFileMode reports a key file that group or others may read or write;
	// it is refused rather than trusted (like ssh does with private keys).
	ErrKeyFileMode = errors.New("secretbox: key file permissions too open (want 0600)")
	// ErrWrongKey reports a ciphertext sealed under a different key, so an
	// operator who changed PORTHOLE_SECRET_KEY gets a clear message instead of
	// a generic authentication failure.
	ErrWrongKey = errors.New("secretbox: sealed with a different key")
	// ErrVersion reports a ciphertext with an unknown format version.
	ErrVersion = errors.New("secretbox: unknown ciphertext version")
	// ErrOpen reports a ciphertext that failed authentication: it was
	// truncated or tampered with, or the associated data differs.
	ErrOpen = errors.New("secretbox: message authentication failed")
)
