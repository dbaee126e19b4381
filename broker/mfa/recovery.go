package mfa

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// RecoveryCodeCount is how many recovery codes an enrollment gets.
const RecoveryCodeCount = 10

// argon2id parameters for recovery codes. The codes carry 50 bits, so a
// memory-hard hash keeps a stolen database from yielding them, while one
// attempt (one hash per unused code, at most ten) costs about 10 × 9 ms on
// a 2-core broker; keep the recovery-code endpoint behind the password step
// and the Limiter so it cannot be used to burn CPU. Parameters are stored in each hash so they can change.
const (
	rcTime    = 1
	rcMemory  = 8 * 1024 // KiB
	rcThreads = 1
	rcKeyLen  = 32
	rcSaltLen = 16
)

var errBadHash = errors.New("mfa: unrecognised recovery code hash")

// newRecoveryCode returns a random code in canonical form ("abcde-12345").
func newRecoveryCode() (string, error) {
	buf := make([]byte, recoveryLen)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("mfa: recovery code: %w", err)
	}
	for i, v := range buf {
		buf[i] = recoveryAlphabet[v&31] // 256 is a multiple of 32: uniform
	}
	return string(buf[:recoveryLen/2]) + "-" + string(buf[recoveryLen/2:]), nil
}

// hashRecoveryCode returns a PHC-style argon2id string with a per-code salt.
// canonical is the output of ParseRecoveryCode.
func hashRecoveryCode(canonical string) (string, error) {
	salt := make([]byte, rcSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("mfa: salt: %w", err)
	}
	key := argon2.IDKey([]byte(canonical), salt, rcTime, rcMemory, rcThreads, rcKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, rcMemory, rcTime, rcThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// checkRecoveryCode reports whether canonical matches hash, comparing in
// constant time.
func checkRecoveryCode(hash, canonical string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil ||
		m < 8*uint32(max(p, 1)) || m > 1<<16 || t < 1 || t > 16 || p < 1 {
		return false, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) < 16 || len(want) > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(canonical), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
