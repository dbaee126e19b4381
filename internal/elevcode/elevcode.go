// Package elevcode issues and verifies temporary admin codes: short,
// human-typable codes that an agent checks offline, with only the
// per-device secret it received at enrollment, before it grants a user
// administrator rights for a while.
//
// The broker (portal, CLI) calls Issue; the agent calls Verify and keeps the
// keys of redeemed codes in a UsedSet so that each code works once. The
// package is pure Go with no state, so both sides share it.
//
// # Format
//
// A code is 12 characters of Crockford base32 (digits and A–Z without I, L,
// O, U), shown in three groups: XXXX-XXXX-XXXX. Parse ignores case, spaces
// and dashes and reads O as 0 and I, L as 1, so what people mistype still
// works. The 60 bits are, most significant first:
//
//	window   11 bits  issue time in 10-minute steps since 2024-01-01 UTC, mod 2048
//	                  (wraps every 14.2 days; the verifier takes the wrap
//	                  nearest its own clock, so clocks 7 days apart still agree)
//	duration  7 bits  elevation length in 5-minute units, minus one (5 min … 10 h 40 min)
//	any user  1 bit   set when the code is not bound to one user
//	nonce     9 bits  random; makes two otherwise equal issuances differ
//	tag      32 bits  HMAC-SHA256(device secret, domain ‖ device id ‖ user ‖
//	                  full window index ‖ duration ‖ any-user ‖ nonce), truncated
//
// # Security budget
//
// Every field is covered by the tag, and the tag also covers the device id,
// the user and the full (unwrapped) window index, none of which travel in
// the code. A guess therefore succeeds with probability 2^-32 (about
// 2.3e-10) whatever its other 28 bits say, for one device and one user. The
// agent adds rate limiting on top (5 failures, then an exponentially
// growing lock-out), so an attacker at the keyboard gets a few hundred
// guesses a day at most: about 2^-24 per year. Issue windows make a leaked
// code useless after window+10 min (+ClockSkew), and UsedSet makes it
// single use. The device secret never leaves the broker and the agent.
package elevcode

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Format constants.
const (
	// Length is the number of characters in a code, dashes excluded.
	Length = 12
	// DurationUnit is the granularity of a code's elevation length.
	DurationUnit = 5 * time.Minute
	// MaxDuration is the longest elevation a code can carry.
	MaxDuration = 128 * DurationUnit
	// WindowUnit is the granularity of a code's issue time.
	WindowUnit = 10 * time.Minute
	// DefaultWindow is how long after issue a code is accepted when Verify
	// is given no window.
	DefaultWindow = time.Hour
	// MaxWindow bounds the window Verify accepts; larger values are cut to it.
	MaxWindow = 24 * time.Hour
	// ClockSkew is how far the agent's clock may be from the broker's in
	// either direction without a fresh code being refused.
	ClockSkew = 5 * time.Minute
	// MaxNonce is the largest nonce a code can carry (9 bits).
	MaxNonce = 1<<nonceBits - 1
	// MinSecretLen is the shortest device secret accepted (enrollment hands
	// out 32 bytes).
	MinSecretLen = 16
	// MaxIDLen bounds the device id and user name.
	MaxIDLen = 255
)

const (
	windowBits   = 11
	durationBits = 7
	nonceBits    = 9
	tagBits      = 32
	// epochUnix is 2024-01-01T00:00:00Z, the origin of window indexes.
	epochUnix = 1704067200
	// alphabet is Crockford's base32.
	alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	// domain separates this MAC from any other use of the device secret.
	domain = "porthole elevation code v1"
)

// Claims is what the broker puts into a code.
type Claims struct {
	// DeviceID is the device the code is for (required).
	DeviceID string
	// User is the local user who may redeem the code; "" means any user.
	User string
	// Duration is how long the user is administrator once the code is
	// redeemed: a multiple of DurationUnit up to MaxDuration.
	Duration time.Duration
	// IssuedAt starts the issue window (the broker's clock).
	IssuedAt time.Time
	// Nonce is random, at most MaxNonce; use RandomNonce.
	Nonce uint32
}

// Grant is what a verified code allows.
type Grant struct {
	// DeviceID and User the code was verified for. User is "" when the code
	// was issued for any user (AnyUser).
	DeviceID string
	User     string
	AnyUser  bool
	// Duration is the elevation length.
	Duration time.Duration
	Nonce    uint32
	// IssuedAt is the start of the 10-minute step the code was issued in.
	IssuedAt time.Time
	// ValidUntil is when the code stops being accepted; a UsedSet must
	// remember the code at least until then.
	ValidUntil time.Time
	// Key identifies this code among all codes of the device; it is what a
	// UsedSet stores. It is not secret and not the code itself.
	Key string
}

// Code is a parsed code: its fields, before the tag is checked.
type Code struct {
	// WindowLow is the issue window index mod 2048.
	WindowLow uint16
	// DurationUnits is the elevation length in DurationUnit (1…128).
	DurationUnits uint8
	AnyUser       bool
	Nonce         uint16
	Tag           uint32
}

// RandomNonce draws a nonce for Claims from crypto/rand.
func RandomNonce() (uint32, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(MaxNonce+1))
	if err != nil {
		return 0, fmt.Errorf("elevcode: nonce: %w", err)
	}
	return uint32(n.Int64()), nil
}

// Issue returns the code for c, grouped for display (XXXX-XXXX-XXXX).
func Issue(secret []byte, c Claims) (string, error) {
	if len(secret) < MinSecretLen {
		return "", ErrSecret
	}
	switch {
	case c.DeviceID == "" || len(c.DeviceID) > MaxIDLen || len(c.User) > MaxIDLen:
		return "", fmt.Errorf("%w: device id required, device id and user at most %d bytes", ErrClaims, MaxIDLen)
	case c.Duration < DurationUnit || c.Duration > MaxDuration || c.Duration%DurationUnit != 0:
		return "", fmt.Errorf("%w: duration %s must be a multiple of %s between %s and %s", ErrClaims, c.Duration, DurationUnit, DurationUnit, MaxDuration)
	case c.Nonce > MaxNonce:
		return "", fmt.Errorf("%w: nonce %d above %d", ErrClaims, c.Nonce, MaxNonce)
	case c.IssuedAt.Unix() < epochUnix:
		return "", fmt.Errorf("%w: issue time %s before 2024", ErrClaims, c.IssuedAt.UTC().Format(time.RFC3339))
	}
	idx := windowIndex(c.IssuedAt)
	code := Code{
		WindowLow:     uint16(idx % (1 << windowBits)),
		DurationUnits: uint8(c.Duration / DurationUnit),
		AnyUser:       c.User == "",
		Nonce:         uint16(c.Nonce),
	}
	code.Tag = tag(secret, c.DeviceID, c.User, idx, code)
	return code.String(), nil
}

// Verify checks code for deviceID and user at time now. window is how long
// after issue the code is accepted (0 means DefaultWindow, at most
// MaxWindow); a code is accepted from its 10-minute issue step minus
// ClockSkew until that step's end plus window plus ClockSkew. Verify does
// not know which codes were used: pass the Grant to UsedSet.Redeem.
//
// Errors: ErrSecret, ErrMalformed, ErrBadCode (wrong device, wrong user,
// typo, guess) and ErrExpired, in that order of checking: a tampered
// expired code is ErrBadCode.
func Verify(secret []byte, deviceID, user, code string, now time.Time, window time.Duration) (Grant, error) {
	if len(secret) < MinSecretLen {
		return Grant{}, ErrSecret
	}
	c, err := Parse(code)
	if err != nil {
		return Grant{}, err
	}
	if deviceID == "" || len(deviceID) > MaxIDLen || len(user) > MaxIDLen {
		return Grant{}, ErrBadCode
	}
	if window <= 0 {
		window = DefaultWindow
	}
	window = min(window, MaxWindow)
	if now.Unix() < epochUnix {
		return Grant{}, fmt.Errorf("%w: the clock says %s", ErrExpired, now.UTC().Format(time.RFC3339))
	}
	idx := resolveWindow(c.WindowLow, windowIndex(now))
	macUser := user
	if c.AnyUser {
		macUser = ""
	}
	want := tag(secret, deviceID, macUser, idx, c)
	var got, exp [4]byte
	binary.BigEndian.PutUint32(got[:], c.Tag)
	binary.BigEndian.PutUint32(exp[:], want)
	if !hmac.Equal(got[:], exp[:]) {
		return Grant{}, ErrBadCode
	}
	issued := time.Unix(epochUnix, 0).UTC().Add(time.Duration(idx) * WindowUnit)
	validUntil := issued.Add(WindowUnit + window + ClockSkew)
	if now.Before(issued.Add(-ClockSkew)) {
		return Grant{}, fmt.Errorf("%w: issued %s, in the future (check the clock)", ErrExpired, issued.Format(time.RFC3339))
	}
	if !now.Before(validUntil) {
		return Grant{}, fmt.Errorf("%w: issued %s, accepted until %s", ErrExpired, issued.Format(time.RFC3339), validUntil.Format(time.RFC3339))
	}
	return Grant{
		DeviceID:   deviceID,
		User:       macUser,
		AnyUser:    c.AnyUser,
		Duration:   time.Duration(c.DurationUnits) * DurationUnit,
		Nonce:      uint32(c.Nonce),
		IssuedAt:   issued,
		ValidUntil: validUntil,
		Key:        fmt.Sprintf("%d-%s", idx, c.compact()),
	}, nil
}

// Parse reads a code typed by a person: case, spaces, dashes and
// underscores are ignored, O reads as 0 and I, L as 1. Anything else that
// is not exactly Length base32 characters is ErrMalformed.
func Parse(s string) (Code, error) {
	if len(s) > 4*Length {
		return Code{}, fmt.Errorf("%w: too long", ErrMalformed)
	}
	var v uint64
	n := 0
	for _, r := range s {
		switch r {
		case ' ', '-', '_', '\t':
			continue
		case 'o', 'O':
			r = '0'
		case 'i', 'I', 'l', 'L':
			r = '1'
		}
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		d := strings.IndexRune(alphabet, r)
		if d < 0 {
			return Code{}, fmt.Errorf("%w: character %q is not in the code alphabet", ErrMalformed, r)
		}
		if n == Length {
			return Code{}, fmt.Errorf("%w: more than %d characters", ErrMalformed, Length)
		}
		v = v<<5 | uint64(d)
		n++
	}
	if n != Length {
		return Code{}, fmt.Errorf("%w: %d characters, want %d", ErrMalformed, n, Length)
	}
	return Code{
		Tag:           uint32(v),
		Nonce:         uint16(v>>tagBits) & MaxNonce,
		AnyUser:       v>>(tagBits+nonceBits)&1 == 1,
		DurationUnits: uint8(v>>(tagBits+nonceBits+1)&(1<<durationBits-1)) + 1,
		WindowLow:     uint16(v >> (tagBits + nonceBits + 1 + durationBits)),
	}, nil
}

// String formats c for display: XXXX-XXXX-XXXX.
func (c Code) String() string {
	s := c.compact()
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12]
}

// compact is c's 12 characters without dashes.
func (c Code) compact() string {
	v := uint64(c.WindowLow)&(1<<windowBits-1)<<(tagBits+nonceBits+1+durationBits) |
		uint64(c.DurationUnits-1)&(1<<durationBits-1)<<(tagBits+nonceBits+1) |
		uint64(c.Nonce)&MaxNonce<<tagBits |
		uint64(c.Tag)
	if c.AnyUser {
		v |= 1 << (tagBits + nonceBits)
	}
	var b [Length]byte
	for i := Length - 1; i >= 0; i-- {
		b[i] = alphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// windowIndex is t's 10-minute step since the epoch (t must not be before it).
func windowIndex(t time.Time) uint64 {
	return uint64(t.Unix()-epochUnix) / uint64(WindowUnit/time.Second)
}

// resolveWindow returns the full window index with low bits low that is
// nearest to nowIdx.
func resolveWindow(low uint16, nowIdx uint64) uint64 {
	const span = 1 << windowBits
	back := (nowIdx - uint64(low)) % span // steps back from now to a match
	cand := nowIdx - back
	if back > span/2 || back > nowIdx {
		cand += span
	}
	return cand
}

// tag is the truncated HMAC over everything the code stands for.
func tag(secret []byte, deviceID, user string, idx uint64, c Code) uint32 {
	m := hmac.New(sha256.New, secret)
	var b []byte
	b = append(b, domain...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(deviceID)))
	b = append(b, deviceID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(user)))
	b = append(b, user...)
	b = binary.BigEndian.AppendUint64(b, idx)
	b = append(b, c.DurationUnits)
	if c.AnyUser {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint16(b, c.Nonce)
	m.Write(b)
	return binary.BigEndian.Uint32(m.Sum(nil))
}
