package accounts

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"regexp"
)

// DefaultPrefix starts every generated username unless Spec.Prefix says
// otherwise, so an administrator can tell break-glass accounts apart.
const DefaultPrefix = "ph-"

// Generated credentials' shape.
const (
	// nameRandomLen is the random part of a username: 36^8 ≈ 2.8e12 names.
	nameRandomLen = 8
	// maxNameLen is the shortest username limit of the three platforms
	// (Windows: 20 characters; Linux: 32).
	maxNameLen = 20
	// PasswordLen is the length of generated passwords: 24 characters from
	// a 66-symbol alphabet, about 145 bits.
	PasswordLen = 24
)

// Alphabets. The password alphabet leaves out characters that are easy to
// misread when copied by hand from the portal (0 O o 1 l I), and those that
// a shell, chpasswd's "user:password" line or a keyboard layout could mangle
// (quotes, backslash, colon, space, $ and backtick).
const (
	nameAlphabet  = "abcdefghijklmnopqrstuvwxyz0123456789"
	pwUpper       = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	pwLower       = "abcdefghijkmnpqrstuvwxyz"
	pwDigits      = "23456789"
	pwSymbols     = "!#%*+-=?@^_~"
	passwordChars = pwUpper + pwLower + pwDigits + pwSymbols
)

// prefixPattern accepts prefixes that keep the whole name a portable
// username: lowercase, starting with a letter, no characters that useradd
// (NAME_REGEX), Windows or macOS would reject.
var prefixPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// validPrefix reports whether prefix can start a generated username.
func validPrefix(prefix string) error {
	if !prefixPattern.MatchString(prefix) {
		return fmt.Errorf("%w: prefix %q must be lowercase letters, digits, '-' or '_' and start with a letter", ErrBadSpec, prefix)
	}
	if len(prefix)+nameRandomLen > maxNameLen {
		return fmt.Errorf("%w: prefix %q longer than %d characters", ErrBadSpec, prefix, maxNameLen-nameRandomLen)
	}
	return nil
}

// randomName returns prefix followed by nameRandomLen random lowercase
// letters and digits.
func randomName(r io.Reader, prefix string) (string, error) {
	if err := validPrefix(prefix); err != nil {
		return "", err
	}
	s, err := randomString(r, nameAlphabet, nameRandomLen)
	if err != nil {
		return "", err
	}
	return prefix + s, nil
}

// randomPassword returns a PasswordLen-character password with at least one
// uppercase letter, lowercase letter, digit and symbol. Candidates missing a
// class are drawn again (rejection keeps every valid password equally
// likely; about 3 in 10 candidates are redrawn).
func randomPassword(r io.Reader) (string, error) {
	for range 100 {
		s, err := randomString(r, passwordChars, PasswordLen)
		if err != nil {
			return "", err
		}
		if hasClasses(s) {
			return s, nil
		}
	}
	return "", fmt.Errorf("accounts: random source produced no usable password")
}

// hasClasses reports whether s holds one character of each password class.
func hasClasses(s string) bool {
	var upper, lower, digit, symbol bool
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		default:
			symbol = true
		}
	}
	return upper && lower && digit && symbol
}

// randomString draws n characters uniformly from alphabet.
func randomString(r io.Reader, alphabet string, n int) (string, error) {
	max := big.NewInt(int64(len(alphabet)))
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(r, max)
		if err != nil {
			return "", fmt.Errorf("accounts: random source: %w", err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b), nil
}
