package mfa

import (
	"fmt"
	"strings"
)

// TOTP parameters (RFC 6238 defaults, which every authenticator app reads).
const (
	// Digits is the TOTP code length.
	Digits = 6
	// Period is the TOTP time step.
	Period = 30
	// Skew is how many steps either side of now are accepted.
	Skew = 1
)

// maxCodeInput bounds what the parsers look at: no code is near this long,
// and a bound keeps hostile input cheap.
const maxCodeInput = 64

// ParseCode normalises a TOTP code as typed or pasted ("123 456",
// "123-456") and returns its six digits. Anything else is ErrInvalidCode.
func ParseCode(s string) (string, error) {
	if len(s) > maxCodeInput {
		return "", fmt.Errorf("%w: too long", ErrInvalidCode)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '-':
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("%w: not a digit", ErrInvalidCode)
		}
	}
	if b.Len() != Digits {
		return "", fmt.Errorf("%w: want %d digits", ErrInvalidCode, Digits)
	}
	return b.String(), nil
}

// recoveryAlphabet is Crockford's base32 in lower case: no i, l, o or u, so
// a code read off paper is unambiguous (and o/i/l typed by mistake are
// mapped to 0/1 like Crockford decoders do).
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// recoveryLen is the number of symbols in a recovery code: 10 × 5 bits = 50 bits.
const recoveryLen = 10

// ParseRecoveryCode normalises a recovery code as typed ("ABCDE-12345",
// "abcde 12345", "abcde12345") to its canonical form "abcde-12345".
func ParseRecoveryCode(s string) (string, error) {
	if len(s) > maxCodeInput {
		return "", fmt.Errorf("%w: too long", ErrInvalidCode)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case ' ', '\t', '-':
			continue
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if strings.IndexByte(recoveryAlphabet, c) < 0 {
			return "", fmt.Errorf("%w: unexpected character", ErrInvalidCode)
		}
		if b.Len() == recoveryLen {
			return "", fmt.Errorf("%w: want %d characters", ErrInvalidCode, recoveryLen)
		}
		b.WriteByte(c)
	}
	if b.Len() != recoveryLen {
		return "", fmt.Errorf("%w: want %d characters", ErrInvalidCode, recoveryLen)
	}
	raw := b.String()
	return raw[:recoveryLen/2] + "-" + raw[recoveryLen/2:], nil
}
