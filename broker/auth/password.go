// Package auth authenticates portal users and CLI tokens: argon2id password
// hashes, server-side browser sessions with idle and absolute timeouts, API
// tokens, and the role model every route is checked against.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters (RFC 9106 second recommendation, lighter memory so a
// 2-core broker can take bursts of logins).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword returns a PHC-style argon2id string.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

var errBadHash = errors.New("auth: unrecognised password hash")

// CheckPassword reports whether pw matches the stored hash, in constant time.
func CheckPassword(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is checked when a username does not exist, so a login for an
// unknown user costs the same as one with a wrong password. Its parameters
// are the current ones (a test keeps them in step); it is a constant so
// that no program pays a 64 MiB hash at start-up for it.
const dummyHash = "$argon2id$v=19$m=65536,t=3,p=2$1KdMZTtbPBQ8vLIVL3p6Dg$QvoGVtoCjeIkxYcgIXodKL17bplt3aIuVOJpbHiW8o0"

// RandomToken returns n random bytes, URL-safe base64 encoded.
func RandomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // cannot happen on Linux; no safe fallback
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewID returns a random identifier for URLs and rows. It never begins
// with "-" or "_", so it cannot be taken for a flag when pasted into the
// CLI (one id in 32 would otherwise).
func NewID() string {
	for {
		id := RandomToken(12)
		if c := id[0]; c != '-' && c != '_' {
			return id
		}
	}
}

// TokenHash is how bearer secrets (cookies, tokens) are stored: SHA-256 hex.
// They carry 256 bits of entropy, so a fast hash is enough.
func TokenHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// NewPassword returns a generated password for first-run and new accounts.
func NewPassword() string { return RandomToken(15) }
