// Package sso signs portal and CLI users in with OpenID Connect providers:
// the authorization code flow with PKCE (S256), a nonce and a state, each
// single-use, bound to the browser that started the sign-in and expiring;
// ID tokens verified for signature, issuer, audience, expiry, nonce and —
// for a step-up — a fresh auth_time. Provision (provision.go) turns a
// verified identity into a Porthole user: (issuer, subject) is the
// identity, users are created just in time, and their role follows their
// IdP groups at every sign-in (docs/adr/0015-identity.md).
package sso

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"porthole/broker/auth"
	"porthole/internal/clock"
)

// FlowTTL bounds a sign-in from its start to the callback.
const FlowTTL = 10 * time.Minute

// maxFlows bounds the sign-ins in progress (memory); past it, expired
// ones are dropped and new ones refused with ErrBusy.
const maxFlows = 10000

// Purpose says what a sign-in is for.
type Purpose string

// Purposes.
const (
	PurposeLogin  Purpose = "login"  // a portal login
	PurposeStepUp Purpose = "stepup" // a fresh re-authentication of a signed-in user
	PurposeCLI    Purpose = "cli"    // porthole login --sso
)

// ServiceConfig wires a Service.
type ServiceConfig struct {
	Providers []ProviderConfig
	// RedirectURL is the broker's callback (PUBLIC_URL/api/sso/callback),
	// registered at every provider.
	RedirectURL string
	// HTTPClient talks to the providers (default http.DefaultClient with a
	// 15 s timeout).
	HTTPClient *http.Client
	Clock      clock.Clock
	Logger     *slog.Logger
	// Getenv reads client secrets named by client_secret_env (default os.LookupEnv).
	Getenv func(string) (string, bool)
}

// Service runs sign-ins.
type Service struct {
	cfg       ServiceConfig
	log       *slog.Logger
	providers map[string]*provider
	order     []string

	mu    sync.Mutex
	flows map[string]*flow // by auth.TokenHash of the browser's flow cookie; guarded by mu
}

type provider struct {
	cfg    ProviderConfig
	secret string // never logged

	mu       sync.Mutex
	op       *oidc.Provider // discovered on first use; guarded by mu
	verifier *oidc.IDTokenVerifier
}

// flow is one sign-in in progress.
type flow struct {
	provider string
	state    string
	nonce    string
	verifier string // PKCE
	purpose  Purpose
	// UserID: for a step-up, the signed-in user it must be.
	userID string
	// Ref: the caller's own reference (the CLI sign-in's id).
	ref     string
	started time.Time
	expires time.Time
}

// New checks the providers' secrets (read now, from files or the
// environment) and returns a Service. Discovery happens at the first
// sign-in, so a provider that is down does not stop the broker.
func New(cfg ServiceConfig) (*Service, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.LookupEnv
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "sso"), providers: map[string]*provider{}, flows: map[string]*flow{}}
	for _, pc := range cfg.Providers {
		sec, err := pc.secret(cfg.Getenv)
		if err != nil {
			return nil, err
		}
		s.providers[pc.ID] = &provider{cfg: pc, secret: sec}
		s.order = append(s.order, pc.ID)
	}
	return s, nil
}

// ProviderInfo is what the login page shows.
type ProviderInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Providers lists the configured providers in the file's order.
func (s *Service) Providers() []ProviderInfo {
	if s == nil {
		return []ProviderInfo{}
	}
	out := make([]ProviderInfo, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, ProviderInfo{ID: id, Name: s.providers[id].cfg.Name})
	}
	return out
}

// Provider returns a provider's configuration.
func (s *Service) Provider(id string) (ProviderConfig, bool) {
	if s == nil {
		return ProviderConfig{}, false
	}
	p, ok := s.providers[id]
	if !ok {
		return ProviderConfig{}, false
	}
	return p.cfg, true
}

func (s *Service) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, s.cfg.HTTPClient)
}

// discover finds the provider's endpoints and keys (once; retried after a failure).
func (p *provider) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.op != nil {
		return p.op, p.verifier, nil
	}
	op, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: discovery at %s: %v", ErrIdP, p.cfg.Issuer, err)
	}
	p.op = op
	p.verifier = op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID})
	return p.op, p.verifier, nil
}

func (s *Service) oauth(p *provider, op *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.secret, Endpoint: op.Endpoint(), RedirectURL: s.cfg.RedirectURL,
		Scopes: p.cfg.Scopes}
}

// Begin starts a sign-in at providerID: it returns the provider's
// authorization URL to send the browser to, and the value of the flow
// cookie to set on it (the sign-in is bound to it). A step-up asks the
// provider for a fresh authentication (prompt=login, max_age=0) of userID.
func (s *Service) Begin(ctx context.Context, providerID string, purpose Purpose, userID, ref string) (authURL, cookie string, err error) {
	if s == nil {
		return "", "", ErrUnknownProvider
	}
	p, ok := s.providers[providerID]
	if !ok {
		return "", "", ErrUnknownProvider
	}
	op, _, err := p.discover(s.ctx(ctx))
	if err != nil {
		return "", "", err
	}
	now := s.cfg.Clock.Now()
	f := &flow{provider: providerID, state: auth.RandomToken(32), nonce: auth.RandomToken(32), verifier: oauth2.GenerateVerifier(),
		purpose: purpose, userID: userID, ref: ref, started: now, expires: now.Add(FlowTTL)}
	cookie = auth.RandomToken(32)
	if err := s.put(auth.TokenHash(cookie), f, now); err != nil {
		return "", "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier), oidc.Nonce(f.nonce)}
	if purpose == PurposeStepUp {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0"))
	}
	return s.oauth(p, op).AuthCodeURL(f.state, opts...), cookie, nil
}

func (s *Service) put(key string, f *flow, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.flows) >= maxFlows {
		for k, v := range s.flows {
			if !now.Before(v.expires) {
				delete(s.flows, k)
			}
		}
		if len(s.flows) >= maxFlows {
			return ErrBusy
		}
	}
	s.flows[key] = f
	return nil
}

// take removes and returns the flow of a cookie: a sign-in's state,
// nonce and verifier serve one callback only, used or not.
func (s *Service) take(cookie string, now time.Time) (*flow, bool) {
	if cookie == "" {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := auth.TokenHash(cookie)
	f, ok := s.flows[k]
	delete(s.flows, k)
	if !ok || !now.Before(f.expires) {
		return nil, false
	}
	return f, true
}

// Identity is a verified sign-in.
type Identity struct {
	Provider string
	Issuer   string
	Subject  string
	// Username is the configured claim's value as the IdP sent it (before
	// case-folding and checks, which Provision does).
	Username string
	Groups   []string
	AuthTime time.Time
	AMR      []string
	ACR      string
	// PhishingResistant: the IdP asserted a phishing-resistant method
	// (one of the provider's phishing_resistant_amr values).
	PhishingResistant bool
	Purpose           Purpose
	UserID            string // a step-up's user
	Ref               string // the caller's reference (CLI sign-in id)
}

// Finish completes a sign-in at the callback: cookie is the browser's flow
// cookie and cb the callback's parameters. The flow is consumed whatever
// the outcome. It exchanges the code (with the PKCE verifier) and
// verifies the ID token.
func (s *Service) Finish(ctx context.Context, cookie string, cb Callback) (Identity, error) {
	if s == nil {
		return Identity{}, ErrUnknownProvider
	}
	now := s.cfg.Clock.Now()
	f, ok := s.take(cookie, now)
	if !ok {
		return Identity{}, ErrNoFlow
	}
	if subtle.ConstantTimeCompare([]byte(cb.State), []byte(f.state)) != 1 {
		return Identity{}, ErrState
	}
	id := Identity{Provider: f.provider, Purpose: f.purpose, UserID: f.userID, Ref: f.ref}
	if cb.Error != "" {
		return id, fmt.Errorf("%w: %s", ErrIdP, cb.Error)
	}
	p := s.providers[f.provider]
	ctx = s.ctx(ctx)
	op, verifier, err := p.discover(ctx)
	if err != nil {
		return id, err
	}
	tok, err := s.oauth(p, op).Exchange(ctx, cb.Code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return id, fmt.Errorf("%w: token endpoint: %s", ErrIdP, re.ErrorCode)
		}
		return id, fmt.Errorf("%w: token endpoint: %v", ErrIdP, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return id, fmt.Errorf("%w: no id_token in the answer", ErrToken)
	}
	it, err := verifier.Verify(ctx, raw)
	if err != nil {
		return id, fmt.Errorf("%w: %v", ErrToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(it.Nonce), []byte(f.nonce)) != 1 {
		return id, fmt.Errorf("%w: nonce mismatch", ErrToken)
	}
	claims, err := parseClaims(it, p.cfg)
	if err != nil {
		return id, err
	}
	id.Issuer, id.Subject = it.Issuer, it.Subject
	id.Username, id.Groups, id.AuthTime, id.AMR, id.ACR = claims.username, claims.groups, claims.authTime, claims.amr, claims.acr
	id.PhishingResistant = slices.ContainsFunc(id.AMR, func(a string) bool { return slices.Contains(p.cfg.PhishingResistantAMR, a) })
	if f.purpose == PurposeStepUp {
		// A step-up needs a sign-in at the IdP after it started (a minute
		// of slack for clocks), whatever session the IdP kept.
		if id.AuthTime.IsZero() || id.AuthTime.Before(f.started.Add(-time.Minute)) {
			return id, fmt.Errorf("%w: the identity provider did not sign you in again (auth_time %s)", ErrToken, fmtTime(id.AuthTime))
		}
	}
	return id, nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "missing"
	}
	return t.UTC().Format(time.RFC3339)
}

// CallbackURL joins the public URL and the callback path.
func CallbackURL(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return publicURL + "/api/sso/callback"
	}
	u.Path = "/api/sso/callback"
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}
