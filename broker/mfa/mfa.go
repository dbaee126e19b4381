// Package mfa is the broker's second factor: TOTP enrollment and
// verification (RFC 6238, via github.com/pquerna/otp) with replay refusal,
// single-use recovery codes stored as argon2id hashes, an admin reset, a
// brute-force Limiter for passwords and codes, and the StepUp freshness
// check that guards the start of a remote support session.
//
// TOTP secrets are sealed with secretbox before they reach the Store, bound
// to the user id, and recovery codes reach it only as hashes: a copy of the
// database yields neither. HTTP routes, the login flow and the SQL store
// live elsewhere; this package takes the time as a parameter so callers pass
// their injected clock's Now.
package mfa

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"porthole/broker/secretbox"
)

// DefaultIssuer names the service in authenticator apps when Enroll gets none.
const DefaultIssuer = "Porthole"

// QRSize is the width and height in pixels of the enrollment QR code.
const QRSize = 200

// secretSize is the TOTP secret length in bytes (RFC 4226 recommends 160 bits).
const secretSize = 20

// minSecretSize is the shortest secret Confirm accepts from a Pending.
const minSecretSize = 16

// Enrollment is a user's confirmed TOTP registration as stored.
type Enrollment struct {
	UserID string
	// SealedSecret is the raw TOTP secret sealed by secretbox with the
	// user id as associated data; never the plaintext.
	SealedSecret []byte
	// LastStep is the last accepted RFC 6238 time step (Unix time / 30);
	// codes for this step or earlier are refused as replays.
	LastStep   int64
	EnrolledAt time.Time
}

// RecoveryCode is one stored recovery code: a hash, never the code.
type RecoveryCode struct {
	ID        string
	UserID    string
	Hash      string // argon2id PHC string with a per-code salt
	CreatedAt time.Time
	UsedAt    time.Time // zero while unused
}

// Store is the persistence mfa needs. Implementations must make each
// method atomic; the bool results report whether a conditional write
// happened, which is how concurrent uses of one code are refused.
type Store interface {
	// InsertMFA stores a new enrollment and its recovery codes in one
	// transaction; inserted is false (and nothing is written) when the user
	// already has an enrollment.
	InsertMFA(ctx context.Context, e Enrollment, codes []RecoveryCode) (inserted bool, err error)
	// TOTP returns the user's enrollment; found is false when there is none.
	TOTP(ctx context.Context, userID string) (e Enrollment, found bool, err error)
	// AdvanceTOTPStep sets last_step = step only if step > last_step
	// (compare-and-set); advanced is false otherwise or when not enrolled.
	AdvanceTOTPStep(ctx context.Context, userID string, step int64) (advanced bool, err error)
	// RecoveryCodes returns the user's unused recovery codes.
	RecoveryCodes(ctx context.Context, userID string) ([]RecoveryCode, error)
	// UseRecoveryCode marks a code used at at, only if it is unused;
	// used is false otherwise.
	UseRecoveryCode(ctx context.Context, userID, codeID string, at time.Time) (used bool, err error)
	// ReplaceRecoveryCodes deletes all of the user's recovery codes and
	// stores codes instead; replaced is false when the user is not enrolled.
	ReplaceRecoveryCodes(ctx context.Context, userID string, codes []RecoveryCode) (replaced bool, err error)
	// DeleteMFA removes the user's enrollment and recovery codes; deleted is
	// false when there was nothing to remove.
	DeleteMFA(ctx context.Context, userID string) (deleted bool, err error)
}

// sealer encrypts secrets at rest; *secretbox.Box is the real one.
type sealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(ciphertext, associatedData []byte) ([]byte, error)
}

var _ sealer = (*secretbox.Box)(nil)

// Config wires a Manager.
type Config struct {
	Store Store
	// Box seals TOTP secrets; use secretbox.Open(dataDir).
	Box    sealer
	Logger *slog.Logger // discards by default; never given codes or secrets
}

// Manager enrolls and verifies second factors. It is safe for concurrent
// use; all state is in the Store.
type Manager struct {
	store Store
	box   sealer
	log   *slog.Logger
}

// New validates cfg and returns a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Box == nil {
		return nil, fmt.Errorf("%w: Store and Box are required", ErrConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Manager{store: cfg.Store, box: cfg.Box, log: cfg.Logger.With("component", "mfa")}, nil
}

// Pending is an enrollment shown to the user but not yet confirmed. Keep it
// server-side (e.g. with the web session) between Enroll and Confirm; it
// holds the secret in clear.
type Pending struct {
	UserID string
	Secret string // base32, no padding, as authenticator apps take it
	URL    string // otpauth://totp/… (what the QR code encodes)
	QRPNG  []byte // QRSize×QRSize PNG of URL
}

// Enroll generates a fresh secret for a user and the QR code to scan. It
// stores nothing: the enrollment exists once Confirm sees a valid code.
func (m *Manager) Enroll(userID, username, issuer string) (Pending, error) {
	if userID == "" || username == "" {
		return Pending{}, fmt.Errorf("mfa: enroll: user id and username are required")
	}
	if issuer == "" {
		issuer = DefaultIssuer
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: username, Period: Period, SecretSize: secretSize,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return Pending{}, fmt.Errorf("mfa: enroll: %w", err)
	}
	img, err := key.Image(QRSize, QRSize)
	if err != nil {
		return Pending{}, fmt.Errorf("mfa: enroll: qr: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Pending{}, fmt.Errorf("mfa: enroll: png: %w", err)
	}
	return Pending{UserID: userID, Secret: key.Secret(), URL: key.URL(), QRPNG: buf.Bytes()}, nil
}

// Confirm completes an enrollment when code is valid for p's secret at now:
// it stores the secret sealed, marks code's time step used (so the same
// code cannot then log in), and returns RecoveryCodeCount recovery codes to
// show the user once. Nothing is stored when the code is wrong.
func (m *Manager) Confirm(ctx context.Context, userID string, p Pending, code string, now time.Time) ([]string, error) {
	if p.UserID != userID {
		return nil, fmt.Errorf("%w: other user", ErrInvalidPending)
	}
	raw, err := decodeSecret(p.Secret)
	if err != nil {
		return nil, err
	}
	c, err := ParseCode(code)
	if err != nil {
		return nil, err
	}
	step, matched, _ := matchStep(raw, c, now, -1)
	if !matched {
		return nil, ErrInvalidCode
	}
	// Fail fast before hashing ten codes; InsertMFA still settles races.
	if _, found, err := m.store.TOTP(ctx, userID); err != nil {
		return nil, fmt.Errorf("mfa: confirm %s: %w", userID, err)
	} else if found {
		return nil, ErrAlreadyEnrolled
	}
	sealed, err := m.box.Seal(raw, secretAD(userID))
	if err != nil {
		return nil, fmt.Errorf("mfa: confirm %s: %w", userID, err)
	}
	plain, stored, err := newRecoveryCodes(userID, now)
	if err != nil {
		return nil, err
	}
	ok, err := m.store.InsertMFA(ctx, Enrollment{UserID: userID, SealedSecret: sealed, LastStep: step, EnrolledAt: now}, stored)
	if err != nil {
		return nil, fmt.Errorf("mfa: confirm %s: %w", userID, err)
	}
	if !ok {
		return nil, ErrAlreadyEnrolled
	}
	m.log.Info("mfa_enrolled", "user_id", userID)
	return plain, nil
}

// Verify checks a TOTP code for a user at now (±Skew steps) and consumes its
// time step: the same code, or any code for an earlier step, is then
// ErrReplayed. A wrong or malformed code is ErrInvalidCode.
func (m *Manager) Verify(ctx context.Context, userID, code string, now time.Time) error {
	c, err := ParseCode(code)
	if err != nil {
		return err
	}
	e, found, err := m.store.TOTP(ctx, userID)
	if err != nil {
		return fmt.Errorf("mfa: verify %s: %w", userID, err)
	}
	if !found {
		return ErrNotEnrolled
	}
	raw, err := m.box.Open(e.SealedSecret, secretAD(userID))
	if err != nil {
		return fmt.Errorf("mfa: verify %s: open secret: %w", userID, err)
	}
	step, matched, fresh := matchStep(raw, c, now, e.LastStep)
	switch {
	case !matched:
		return ErrInvalidCode
	case !fresh:
		return ErrReplayed
	}
	ok, err := m.store.AdvanceTOTPStep(ctx, userID, step)
	if err != nil {
		return fmt.Errorf("mfa: verify %s: %w", userID, err)
	}
	if !ok { // a concurrent Verify took this step (or a later one) first
		return ErrReplayed
	}
	return nil
}

// UseRecoveryCode accepts one unused recovery code and marks it used. Every
// unused code's hash is checked (no early exit), so timing does not say
// which one matched.
func (m *Manager) UseRecoveryCode(ctx context.Context, userID, code string, now time.Time) error {
	c, err := ParseRecoveryCode(code)
	if err != nil {
		return err
	}
	if _, found, err := m.store.TOTP(ctx, userID); err != nil {
		return fmt.Errorf("mfa: recovery %s: %w", userID, err)
	} else if !found {
		return ErrNotEnrolled
	}
	codes, err := m.store.RecoveryCodes(ctx, userID)
	if err != nil {
		return fmt.Errorf("mfa: recovery %s: %w", userID, err)
	}
	match := ""
	for _, rc := range codes {
		ok, err := checkRecoveryCode(rc.Hash, c)
		if err != nil {
			return fmt.Errorf("mfa: recovery %s code %s: %w", userID, rc.ID, err)
		}
		if ok && rc.UsedAt.IsZero() {
			match = rc.ID
		}
	}
	if match == "" {
		return ErrInvalidCode
	}
	used, err := m.store.UseRecoveryCode(ctx, userID, match, now)
	if err != nil {
		return fmt.Errorf("mfa: recovery %s: %w", userID, err)
	}
	if !used { // a concurrent attempt spent it first
		return ErrInvalidCode
	}
	m.log.Info("mfa_recovery_code_used", "user_id", userID, "code_id", match)
	return nil
}

// RegenerateRecoveryCodes replaces all of a user's recovery codes with a
// fresh set, returned once. Callers should demand a fresh TOTP first.
func (m *Manager) RegenerateRecoveryCodes(ctx context.Context, userID string, now time.Time) ([]string, error) {
	plain, stored, err := newRecoveryCodes(userID, now)
	if err != nil {
		return nil, err
	}
	ok, err := m.store.ReplaceRecoveryCodes(ctx, userID, stored)
	if err != nil {
		return nil, fmt.Errorf("mfa: regenerate %s: %w", userID, err)
	}
	if !ok {
		return nil, ErrNotEnrolled
	}
	m.log.Info("mfa_recovery_codes_regenerated", "user_id", userID)
	return plain, nil
}

// Reset removes a user's TOTP secret and recovery codes (the admin reset;
// the caller audits it). ErrNotEnrolled when there was nothing to remove.
func (m *Manager) Reset(ctx context.Context, userID string) error {
	ok, err := m.store.DeleteMFA(ctx, userID)
	if err != nil {
		return fmt.Errorf("mfa: reset %s: %w", userID, err)
	}
	if !ok {
		return ErrNotEnrolled
	}
	m.log.Info("mfa_reset", "user_id", userID)
	return nil
}

// Status is what the portal shows about a user's second factor.
type Status struct {
	Enrolled          bool
	EnrolledAt        time.Time
	RecoveryCodesLeft int
}

// Status reports whether a user is enrolled and how many recovery codes remain.
func (m *Manager) Status(ctx context.Context, userID string) (Status, error) {
	e, found, err := m.store.TOTP(ctx, userID)
	if err != nil || !found {
		return Status{}, err
	}
	codes, err := m.store.RecoveryCodes(ctx, userID)
	if err != nil {
		return Status{}, fmt.Errorf("mfa: status %s: %w", userID, err)
	}
	return Status{Enrolled: true, EnrolledAt: e.EnrolledAt, RecoveryCodesLeft: len(codes)}, nil
}

// secretAD binds a sealed secret to its user, so rows cannot be swapped.
func secretAD(userID string) []byte { return []byte("porthole/mfa/totp\x00" + userID) }

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func decodeSecret(s string) ([]byte, error) {
	raw, err := b32.DecodeString(strings.ToUpper(strings.TrimRight(s, "=")))
	if err != nil || len(raw) < minSecretSize {
		return nil, fmt.Errorf("%w: bad secret", ErrInvalidPending)
	}
	return raw, nil
}

// Step returns the RFC 6238 time step of t.
func Step(t time.Time) int64 {
	u := t.Unix()
	if u < 0 {
		return -1 // before 1970: no valid step; never matches
	}
	return u / Period
}

// matchStep compares code with the codes of the steps around now. It
// reports the newest matching step after last (fresh), or whether any step
// matched at all. All candidate steps are computed and compared.
func matchStep(secret []byte, code string, now time.Time, last int64) (step int64, matched, fresh bool) {
	enc := b32.EncodeToString(secret)
	cur := Step(now)
	step = -1
	for d := int64(-Skew); d <= Skew; d++ {
		s := cur + d
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(enc, uint64(s), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = true
			if s > last && s > step {
				step, fresh = s, true
			}
		}
	}
	return step, matched, fresh
}

// newRecoveryCodes returns the codes to show and their hashed records.
func newRecoveryCodes(userID string, now time.Time) ([]string, []RecoveryCode, error) {
	plain := make([]string, 0, RecoveryCodeCount)
	stored := make([]RecoveryCode, 0, RecoveryCodeCount)
	for range RecoveryCodeCount {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, nil, err
		}
		h, err := hashRecoveryCode(c)
		if err != nil {
			return nil, nil, err
		}
		id := make([]byte, 12)
		if _, err := rand.Read(id); err != nil {
			return nil, nil, fmt.Errorf("mfa: id: %w", err)
		}
		plain = append(plain, c)
		stored = append(stored, RecoveryCode{ID: hex.EncodeToString(id), UserID: userID, Hash: h, CreatedAt: now})
	}
	return plain, stored, nil
}
