// Package passkey registers and checks passkeys and security keys
// (WebAuthn, with go-webauthn): several per user, discoverable (so they
// sign in without a username), user verification required for every
// ceremony (a passkey then is a phishing-resistant multi-factor sign-in by
// itself: something held, unlocked by something known or biometric).
//
// The relying party id and origin come from the broker's public URL.
// Ceremony state (the challenge) is held here, single-use and expiring,
// bound to the portal session that started it (registration, step-up) or
// to the ceremony id the page got (passwordless sign-in). A sign count
// that does not grow marks a cloned authenticator: the assertion is
// refused (ErrCloned) and the caller audits it.
package passkey

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"porthole/broker/auth"
	"porthole/broker/store"
	"porthole/internal/clock"
)

// Errors, matched with errors.Is.
var (
	ErrNoCeremony = errors.New("this passkey request expired or was already used: try again")
	ErrFailed     = errors.New("the passkey could not be verified")
	// ErrUnknown: the credential is not registered (for this user).
	ErrUnknown = errors.New("this passkey is not registered for your account")
	// ErrCloned: the authenticator's sign count went backwards — a copy of
	// the credential is in use somewhere.
	ErrCloned = errors.New("this passkey's signature counter went backwards: it may have been copied, and is refused")
	ErrBusy   = errors.New("too many passkey requests in progress, try again in a minute")
	// ErrDisabled: passkeys are off (no usable public URL).
	ErrDisabled = errors.New("passkeys are not available on this broker (its public URL is not a domain)")
)

// CeremonyTTL bounds a ceremony from begin to finish.
const CeremonyTTL = 5 * time.Minute

const maxCeremonies = 10000

type credentials interface {
	UserByID(ctx context.Context, id string) (store.User, error)
	CreateWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error
	UserWebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error)
	WebAuthnCredentialByID(ctx context.Context, id string) (store.WebAuthnCredential, error)
	UseWebAuthnCredential(ctx context.Context, id string, count uint32, at time.Time) error
}

// Config wires a Service.
type Config struct {
	// PublicURL is the portal's URL: its host is the relying party id, its
	// scheme://host[:port] the only origin accepted.
	PublicURL string
	Store     credentials
	Clock     clock.Clock
	Logger    *slog.Logger
}

// Service runs WebAuthn ceremonies.
type Service struct {
	cfg Config
	wa  *webauthn.WebAuthn
	log *slog.Logger

	mu         sync.Mutex
	ceremonies map[string]ceremony // by id; guarded by mu
}

type ceremony struct {
	kind    string // "register", "login", "verify"
	userID  string
	session string // the portal session it is bound to ("" for login)
	data    webauthn.SessionData
	expires time.Time
}

// New returns a Service for the public URL. A URL whose host is an IP
// address gives ErrDisabled from every call: browsers refuse IP addresses
// as relying party ids (use localhost or a name).
func New(cfg Config) (*Service, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "passkey"), ceremonies: map[string]ceremony{}}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("passkey: public URL %q: not a URL", cfg.PublicURL)
	}
	if isIP(u.Hostname()) {
		s.log.Warn("passkeys disabled: the public URL's host is an IP address", "public_url", cfg.PublicURL)
		return s, nil
	}
	s.wa, err = webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "Porthole", RPOrigins: []string{u.Scheme + "://" + u.Host},
		AuthenticatorSelection: protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationRequired},
		AttestationPreference: protocol.PreferNoAttestation})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return s, nil
}

func isIP(h string) bool {
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// Enabled reports whether passkeys can be used.
func (s *Service) Enabled() bool { return s != nil && s.wa != nil }

// user adapts a store user and credentials to webauthn.User. The user
// handle is the user's random id (no personal data).
type user struct {
	u     store.User
	creds []webauthn.Credential
}

func (w user) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w user) WebAuthnName() string                       { return w.u.Username }
func (w user) WebAuthnDisplayName() string                { return w.u.Username }
func (w user) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func (s *Service) load(ctx context.Context, u store.User) (user, error) {
	cs, err := s.cfg.Store.UserWebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return user{}, err
	}
	w := user{u: u}
	for _, c := range cs {
		id, err := base64.RawURLEncoding.DecodeString(c.ID)
		if err != nil {
			continue
		}
		tr := make([]protocol.AuthenticatorTransport, 0, len(c.Transports))
		for _, t := range c.Transports {
			tr = append(tr, protocol.AuthenticatorTransport(t))
		}
		w.creds = append(w.creds, webauthn.Credential{ID: id, PublicKey: c.PublicKey, AttestationType: c.Attestation, Transport: tr,
			Flags:         webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(c.Flags)),
			Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount}})
	}
	return w, nil
}

func (s *Service) put(c ceremony) (string, error) {
	now := s.cfg.Clock.Now()
	c.expires = now.Add(CeremonyTTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ceremonies) >= maxCeremonies {
		for k, v := range s.ceremonies {
			if !now.Before(v.expires) {
				delete(s.ceremonies, k)
			}
		}
		if len(s.ceremonies) >= maxCeremonies {
			return "", ErrBusy
		}
	}
	id := auth.RandomToken(24)
	s.ceremonies[id] = c
	return id, nil
}

// take removes a ceremony (single use) and checks its kind and binding.
func (s *Service) take(id, kind, session string) (ceremony, error) {
	s.mu.Lock()
	c, ok := s.ceremonies[id]
	delete(s.ceremonies, id)
	s.mu.Unlock()
	if !ok || c.kind != kind || c.session != session || !s.cfg.Clock.Now().Before(c.expires) {
		return ceremony{}, ErrNoCeremony
	}
	return c, nil
}

// BeginRegistration starts registering a new passkey for u on the portal
// session sessionHash. The options go to navigator.credentials.create.
func (s *Service) BeginRegistration(ctx context.Context, u store.User, sessionHash string) (*protocol.CredentialCreation, string, error) {
	if !s.Enabled() {
		return nil, "", ErrDisabled
	}
	w, err := s.load(ctx, u)
	if err != nil {
		return nil, "", err
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(w.creds))
	for _, c := range w.creds {
		exclude = append(exclude, c.Descriptor())
	}
	opts, data, err := s.wa.BeginRegistration(w, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, "", fmt.Errorf("passkey registration: %w", err)
	}
	id, err := s.put(ceremony{kind: "register", userID: u.ID, session: sessionHash, data: *data})
	return opts, id, err
}

// FinishRegistration checks the authenticator's answer and stores the
// credential as name.
func (s *Service) FinishRegistration(ctx context.Context, u store.User, sessionHash, ceremonyID, name string, body []byte) (store.WebAuthnCredential, error) {
	if !s.Enabled() {
		return store.WebAuthnCredential{}, ErrDisabled
	}
	c, err := s.take(ceremonyID, "register", sessionHash)
	if err != nil || c.userID != u.ID {
		return store.WebAuthnCredential{}, ErrNoCeremony
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("%w: %v", ErrFailed, err)
	}
	w, err := s.load(ctx, u)
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	cred, err := s.wa.CreateCredential(w, c.data, parsed)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("%w: %v", ErrFailed, err)
	}
	tr := make([]string, 0, len(cred.Transport))
	for _, t := range cred.Transport {
		tr = append(tr, string(t))
	}
	now := s.cfg.Clock.Now()
	rec := store.WebAuthnCredential{ID: base64.RawURLEncoding.EncodeToString(cred.ID), UserID: u.ID, Name: name, PublicKey: cred.PublicKey,
		Attestation: cred.AttestationType, AAGUID: cred.Authenticator.AAGUID, SignCount: cred.Authenticator.SignCount, Transports: tr,
		Flags: uint8(cred.Flags.ProtocolValue()), CreatedAt: now}
	if rec.AAGUID == nil {
		rec.AAGUID = []byte{}
	}
	if err := s.cfg.Store.CreateWebAuthnCredential(ctx, rec); err != nil {
		return store.WebAuthnCredential{}, err
	}
	return rec, nil
}

// BeginLogin starts a passwordless sign-in with any discoverable passkey.
func (s *Service) BeginLogin() (*protocol.CredentialAssertion, string, error) {
	if !s.Enabled() {
		return nil, "", ErrDisabled
	}
	opts, data, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, "", fmt.Errorf("passkey login: %w", err)
	}
	id, err := s.put(ceremony{kind: "login", data: *data})
	return opts, id, err
}

// Assertion is a checked passkey use.
type Assertion struct {
	User       store.User
	Credential store.WebAuthnCredential
	// SignCount is what the authenticator said (for the audit of a refusal).
	SignCount uint32
}

// FinishLogin checks a passwordless sign-in: the user is the one whose
// handle the passkey carries.
func (s *Service) FinishLogin(ctx context.Context, ceremonyID string, body []byte) (Assertion, error) {
	if !s.Enabled() {
		return Assertion{}, ErrDisabled
	}
	c, err := s.take(ceremonyID, "login", "")
	if err != nil {
		return Assertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return Assertion{}, fmt.Errorf("%w: %v", ErrFailed, err)
	}
	var found user
	handler := func(rawID, handle []byte) (webauthn.User, error) {
		u, err := s.cfg.Store.UserByID(ctx, string(handle))
		if err != nil {
			return nil, ErrUnknown
		}
		if found, err = s.load(ctx, u); err != nil {
			return nil, err
		}
		return found, nil
	}
	_, cred, err := s.wa.ValidatePasskeyLogin(handler, c.data, parsed)
	if err != nil {
		return s.assertionError(ctx, found, parsed, err)
	}
	return s.used(ctx, found, cred)
}

// BeginVerify starts a check of one of u's passkeys on a portal session:
// the second factor of a login, or a step-up.
func (s *Service) BeginVerify(ctx context.Context, u store.User, sessionHash string) (*protocol.CredentialAssertion, string, error) {
	if !s.Enabled() {
		return nil, "", ErrDisabled
	}
	w, err := s.load(ctx, u)
	if err != nil {
		return nil, "", err
	}
	if len(w.creds) == 0 {
		return nil, "", ErrUnknown
	}
	opts, data, err := s.wa.BeginLogin(w, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, "", fmt.Errorf("passkey verify: %w", err)
	}
	id, err := s.put(ceremony{kind: "verify", userID: u.ID, session: sessionHash, data: *data})
	return opts, id, err
}

// FinishVerify checks the answer to BeginVerify: one of u's passkeys,
// user verified.
func (s *Service) FinishVerify(ctx context.Context, u store.User, sessionHash, ceremonyID string, body []byte) (Assertion, error) {
	if !s.Enabled() {
		return Assertion{}, ErrDisabled
	}
	c, err := s.take(ceremonyID, "verify", sessionHash)
	if err != nil || c.userID != u.ID {
		return Assertion{}, ErrNoCeremony
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return Assertion{}, fmt.Errorf("%w: %v", ErrFailed, err)
	}
	w, err := s.load(ctx, u)
	if err != nil {
		return Assertion{}, err
	}
	cred, err := s.wa.ValidateLogin(w, c.data, parsed)
	if err != nil {
		return s.assertionError(ctx, w, parsed, err)
	}
	return s.used(ctx, w, cred)
}

// assertionError names why an assertion failed: a credential this user
// does not have is ErrUnknown, anything else ErrFailed.
func (s *Service) assertionError(_ context.Context, w user, parsed *protocol.ParsedCredentialAssertionData, err error) (Assertion, error) {
	a := Assertion{User: w.u, SignCount: parsed.Response.AuthenticatorData.Counter}
	known := false
	for _, c := range w.creds {
		if bytes.Equal(c.ID, parsed.RawID) {
			known = true
		}
	}
	if !known || errors.Is(err, ErrUnknown) {
		return a, fmt.Errorf("%w (%v)", ErrUnknown, err)
	}
	return a, fmt.Errorf("%w: %v", ErrFailed, err)
}

// used records a good assertion, refusing one whose sign count went
// backwards (the library flags it; the store refuses it too, so two racing
// assertions with one count cannot both pass).
func (s *Service) used(ctx context.Context, w user, cred *webauthn.Credential) (Assertion, error) {
	id := base64.RawURLEncoding.EncodeToString(cred.ID)
	rec, err := s.cfg.Store.WebAuthnCredentialByID(ctx, id)
	if err != nil {
		return Assertion{}, err
	}
	a := Assertion{User: w.u, Credential: rec, SignCount: cred.Authenticator.SignCount}
	if cred.Authenticator.CloneWarning {
		return a, ErrCloned
	}
	if err := s.cfg.Store.UseWebAuthnCredential(ctx, id, cred.Authenticator.SignCount, s.cfg.Clock.Now()); errors.Is(err, store.ErrConflict) {
		return a, ErrCloned
	} else if err != nil {
		return a, err
	}
	return a, nil
}
