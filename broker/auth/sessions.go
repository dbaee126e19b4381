package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

// Errors from authentication, matched with errors.Is. The API maps them all
// to one generic message so callers cannot tell which part was wrong.
var (
	ErrBadCredentials = errors.New("invalid username or password")
	ErrNoSession      = errors.New("not logged in")
	ErrExpired        = errors.New("session expired")
)

// users is the part of the store the Authenticator needs.
type users interface {
	UserByName(ctx context.Context, name string) (store.User, error)
	UserByID(ctx context.Context, id string) (store.User, error)
	CreateWebSession(ctx context.Context, ws store.WebSession) error
	WebSession(ctx context.Context, idHash string) (store.WebSession, error)
	TouchWebSession(ctx context.Context, idHash string, at time.Time) error
	DeleteWebSession(ctx context.Context, idHash string) error
	SetWebSessionMFA(ctx context.Context, idHash string, at time.Time, method string) error
	DeleteUserWebSessions(ctx context.Context, userID string) (int, error)
	CreateAPIToken(ctx context.Context, t store.APIToken) error
	APITokenByHash(ctx context.Context, hash string) (store.APIToken, error)
	TouchAPIToken(ctx context.Context, id string, at time.Time, ip string) error
	UserAPITokens(ctx context.Context, userID string) ([]store.APIToken, error)
	APITokenByID(ctx context.Context, id string) (store.APIToken, error)
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error
	UserGroups(ctx context.Context, userID string) ([]string, error)
}

// Config sets session lifetimes.
type Config struct {
	IdleTimeout     time.Duration // default 30m
	AbsoluteTimeout time.Duration // default 12h
	// PendingTimeout bounds a session waiting for its second factor
	// (default 10m): a password alone does not buy a long-lived session.
	PendingTimeout time.Duration
	Clock          clock.Clock
	// Hashing bounds concurrent password hashes (defaults in HashLimits).
	Hashing HashLimits
	// Standing reports whether roles hold standing device rights (the
	// access.standing setting is "role"); nil means they do. An error
	// fails the request (closed).
	Standing func(ctx context.Context) (bool, error)
}

// Authenticator checks passwords and manages sessions and tokens.
type Authenticator struct {
	users users
	cfg   Config
	hash  *hasher
}

// New returns an Authenticator over s.
func New(s users, cfg Config) *Authenticator {
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.AbsoluteTimeout == 0 {
		cfg.AbsoluteTimeout = 12 * time.Hour
	}
	if cfg.PendingTimeout == 0 {
		cfg.PendingTimeout = 10 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Authenticator{users: s, cfg: cfg, hash: newHasher(cfg.Hashing)}
}

// Principal is an authenticated caller.
type Principal struct {
	UserID   string
	Username string
	Role     Role
	// SessionHash identifies the browser session (empty for API tokens).
	SessionHash string
	// MFAPending is set while the session waits for its second factor;
	// the API lets such a session call the MFA endpoints only.
	MFAPending bool
	// MFAAt is when the session last passed a step-up — a TOTP code, a
	// passkey with user verification, or a fresh sign-in at its IdP (zero
	// if never, and always for API tokens); the step-up check reads it.
	// MFAMethod says which ("totp", "passkey", "idp").
	MFAAt     time.Time
	MFAMethod string
	// LoginMethod is how the session logged in ("password",
	// "password+totp", "password+passkey", "passkey", "sso:PROVIDER").
	LoginMethod string
	// PendingFactor is what a pending session owes: "" (a TOTP code or its
	// enrollment) or "passkey".
	PendingFactor string
	// TokenID identifies the API token (empty for browser sessions).
	TokenID string
	// Scopes bound an API token (nil: unrestricted, as for browser
	// sessions and "porthole login" tokens).
	Scopes Scopes
	// GroupBound: the role's device rights hold only on Groups (the
	// user's role bindings).
	GroupBound bool
	Groups     []string
	// NoStanding: access.standing is "none", so the role holds no device
	// rights at all (admins excepted): only access grants give them.
	NoStanding bool
}

// Can reports whether the principal may use perm everywhere: its role
// grants it, its token's scopes allow it, and — for a device permission —
// the role holds it on every device.
func (p Principal) Can(perm Permission) bool {
	return p.Role.Can(perm) && p.Scopes.Allows(perm) && (!IsDevicePermission(perm) || p.standingOn(nil))
}

// CanOn reports whether the principal's role (not an access grant) lets it
// use perm on a device of group ("" for a device in no group).
func (p Principal) CanOn(perm Permission, group string) bool {
	return p.Role.Can(perm) && p.Scopes.Allows(perm) && (!IsDevicePermission(perm) || p.standingOn(&group))
}

// standingOn: the role's device rights hold on group (nil: on every device).
func (p Principal) standingOn(group *string) bool {
	switch {
	case p.Role == Admin:
		return true // admins keep their rights whatever access.standing says
	case p.NoStanding:
		return false
	case !p.GroupBound:
		return true
	}
	return group != nil && *group != "" && slices.Contains(p.Groups, *group)
}

// PrincipalFor is u as a caller with all of u's rights (no token scopes):
// its role, role bindings and the access.standing policy.
func (a *Authenticator) PrincipalFor(ctx context.Context, u store.User) (Principal, error) {
	p := Principal{UserID: u.ID, Username: u.Username, Role: Role(u.Role), GroupBound: u.GroupBound}
	if u.GroupBound {
		gs, err := a.users.UserGroups(ctx, u.ID)
		if err != nil {
			return Principal{}, fmt.Errorf("role bindings of %s: %w", u.ID, err)
		}
		p.Groups = gs
	}
	if a.cfg.Standing != nil {
		standing, err := a.cfg.Standing(ctx)
		if err != nil {
			return Principal{}, fmt.Errorf("access.standing: %w", err)
		}
		p.NoStanding = !standing
	}
	return p, nil
}

// Password checks a username and password: Lookup, then Verify.
func (a *Authenticator) Password(ctx context.Context, username, password string) (store.User, error) {
	at, err := a.Lookup(ctx, username)
	if err != nil {
		return store.User{}, err
	}
	return a.Verify(ctx, at, password)
}

// Attempt is a login in progress: the name as typed, case-folded, and the
// account it names when there is one. The API reserves the attempt
// against the limiter of existing accounts or that of unknown names
// before Verify spends a hash on it.
type Attempt struct {
	Name   string     // wire.FoldUsername of what was typed
	User   store.User // when Exists
	Exists bool
}

// Lookup finds the account a login names (usernames are case-folded).
// An unknown name is not an error: Verify still costs it a hash.
func (a *Authenticator) Lookup(ctx context.Context, username string) (Attempt, error) {
	at := Attempt{Name: wire.FoldUsername(username)}
	u, err := a.users.UserByName(ctx, at.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return at, nil
	case err != nil:
		return at, fmt.Errorf("login: %w", err)
	}
	at.User, at.Exists = u, true
	return at, nil
}

// Verify checks password for at under the hashing bound. Unknown users,
// disabled users and wrong passwords all return ErrBadCredentials after
// the same work (an unknown name is checked against a dummy hash in the
// same slots); ErrBusy means no hash ran.
func (a *Authenticator) Verify(ctx context.Context, at Attempt, password string) (store.User, error) {
	hash := dummyHash
	if at.Exists && at.User.PasswordHash != "" { // no hash: an account that signs in at its IdP only
		hash = at.User.PasswordHash
	}
	ok, err := a.hash.checkPassword(ctx, hash, password)
	switch {
	case errors.Is(err, ErrBusy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return store.User{}, err
	case err != nil:
		return store.User{}, fmt.Errorf("login %s: %w", at.User.ID, err)
	case !at.Exists || !ok || at.User.Disabled || at.User.PasswordHash == "":
		return store.User{}, ErrBadCredentials
	}
	return at.User, nil
}

// StartSession creates a fresh session (a new id at every login, so a
// fixated cookie is worthless) and returns the cookie value.
func (a *Authenticator) StartSession(ctx context.Context, u store.User) (string, error) {
	return a.StartSessionAs(ctx, u.ID, SessionSpec{})
}

// StartPendingSession creates a session that has passed the password step
// only. It lives PendingTimeout at most and grants nothing but the MFA
// endpoints until CompleteMFA replaces it.
func (a *Authenticator) StartPendingSession(ctx context.Context, u store.User) (string, error) {
	return a.StartSessionAs(ctx, u.ID, SessionSpec{Pending: true})
}

// SessionSpec says how a new session logged in.
type SessionSpec struct {
	LoginMethod string // default "password"
	// Pending: the session owes PendingFactor ("" a TOTP code, or "passkey").
	Pending       bool
	PendingFactor string
	// MFAAt and MFAMethod: a step-up the login itself counts as (a TOTP
	// code, a passkey with user verification, a fresh IdP sign-in).
	MFAAt     time.Time
	MFAMethod string
}

// StartSessionAs creates a fresh session as spec says.
func (a *Authenticator) StartSessionAs(ctx context.Context, userID string, spec SessionSpec) (string, error) {
	return a.newSession(ctx, userID, spec)
}

// CompleteMFA ends a session (pending or full) and starts a full one for
// the same user with a fresh id, recording mfaAt as its last TOTP
// verification (zero for a recovery code). The new cookie value is returned.
func (a *Authenticator) CompleteMFA(ctx context.Context, oldHash, userID string, mfaAt time.Time) (string, error) {
	method := ""
	if !mfaAt.IsZero() {
		method = "totp"
	}
	return a.Rotate(ctx, oldHash, userID, SessionSpec{LoginMethod: "password+totp", MFAAt: mfaAt, MFAMethod: method})
}

// Rotate ends a session (pending or full) and starts spec's session for
// the same user with a fresh id. The new cookie value is returned.
func (a *Authenticator) Rotate(ctx context.Context, oldHash, userID string, spec SessionSpec) (string, error) {
	if err := a.users.DeleteWebSession(ctx, oldHash); err != nil {
		return "", fmt.Errorf("rotate session: %w", err)
	}
	return a.newSession(ctx, userID, spec)
}

// StepUp records a fresh TOTP verification on a full session.
func (a *Authenticator) StepUp(ctx context.Context, sessionHash string) error {
	return a.StepUpWith(ctx, sessionHash, "totp")
}

// StepUpWith records a fresh step-up by method ("totp", "passkey", "idp")
// on a full session.
func (a *Authenticator) StepUpWith(ctx context.Context, sessionHash, method string) error {
	if err := a.users.SetWebSessionMFA(ctx, sessionHash, a.cfg.Clock.Now(), method); err != nil {
		return fmt.Errorf("step-up: %w", err)
	}
	return nil
}

// EndUserSessions logs every browser session of a user out server-side.
func (a *Authenticator) EndUserSessions(ctx context.Context, userID string) (int, error) {
	return a.users.DeleteUserWebSessions(ctx, userID)
}

func (a *Authenticator) newSession(ctx context.Context, userID string, spec SessionSpec) (string, error) {
	secret := RandomToken(32)
	now := a.cfg.Clock.Now()
	life := a.cfg.AbsoluteTimeout
	if spec.Pending {
		life = min(life, a.cfg.PendingTimeout)
	}
	err := a.users.CreateWebSession(ctx, store.WebSession{IDHash: TokenHash(secret), UserID: userID,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(life), MFAPending: spec.Pending, MFAAt: spec.MFAAt,
		LoginMethod: spec.LoginMethod, MFAMethod: spec.MFAMethod, PendingFactor: spec.PendingFactor})
	if err != nil {
		return "", fmt.Errorf("start session: %w", err)
	}
	return secret, nil
}

// Session resolves a cookie value, enforcing idle and absolute timeouts.
func (a *Authenticator) Session(ctx context.Context, secret string) (Principal, error) {
	if secret == "" {
		return Principal{}, ErrNoSession
	}
	h := TokenHash(secret)
	ws, err := a.users.WebSession(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrNoSession
	}
	if err != nil {
		return Principal{}, err
	}
	now := a.cfg.Clock.Now()
	if !now.Before(ws.ExpiresAt) || now.Sub(ws.LastSeen) >= a.cfg.IdleTimeout {
		_ = a.users.DeleteWebSession(ctx, h)
		return Principal{}, ErrExpired
	}
	u, err := a.users.UserByID(ctx, ws.UserID)
	if err != nil || u.Disabled {
		return Principal{}, ErrNoSession
	}
	// Touch at most once a minute: the idle timeout needs no finer grain.
	if now.Sub(ws.LastSeen) > time.Minute {
		_ = a.users.TouchWebSession(ctx, h, now)
	}
	p, err := a.PrincipalFor(ctx, u)
	if err != nil {
		return Principal{}, err
	}
	p.SessionHash, p.MFAPending, p.MFAAt = h, ws.MFAPending, ws.MFAAt
	p.MFAMethod, p.LoginMethod, p.PendingFactor = ws.MFAMethod, ws.LoginMethod, ws.PendingFactor
	return p, nil
}

// EndSession logs a session out server-side.
func (a *Authenticator) EndSession(ctx context.Context, sessionHash string) error {
	return a.users.DeleteWebSession(ctx, sessionHash)
}

// TokenSpec is what IssueToken makes: a "porthole login" token (no
// scopes: all of the owner's rights) or an API token with scopes.
type TokenSpec struct {
	ID     string // default: a new id
	Name   string
	Kind   string // store.TokenCLI (default) or store.TokenAPI
	Scopes Scopes // TokenAPI: required
	Note   string
	TTL    time.Duration
}

// IssueToken creates an API token and returns its value once.
func (a *Authenticator) IssueToken(ctx context.Context, u store.User, spec TokenSpec) (string, store.APIToken, error) {
	if spec.Kind == "" {
		spec.Kind = store.TokenCLI
	}
	if spec.Kind == store.TokenAPI && spec.Scopes == nil {
		return "", store.APIToken{}, fmt.Errorf("%w: at least one scope is required", ErrBadScope)
	}
	if spec.ID == "" {
		spec.ID = NewID()
	}
	secret := "pht_" + RandomToken(32)
	now := a.cfg.Clock.Now()
	t := store.APIToken{ID: spec.ID, Hash: TokenHash(secret), UserID: u.ID, Name: spec.Name, Kind: spec.Kind, Scopes: spec.Scopes,
		Note: spec.Note, CreatedAt: now, ExpiresAt: now.Add(spec.TTL)}
	if err := a.users.CreateAPIToken(ctx, t); err != nil {
		return "", t, fmt.Errorf("issue token: %w", err)
	}
	return secret, t, nil
}

// touchEvery bounds how often a token's last use is written.
const touchEvery = time.Minute

// Token resolves a bearer token used from ip, recording the use.
func (a *Authenticator) Token(ctx context.Context, secret, ip string) (Principal, error) {
	t, err := a.users.APITokenByHash(ctx, TokenHash(secret))
	if err != nil || t.Revoked {
		return Principal{}, ErrNoSession
	}
	now := a.cfg.Clock.Now()
	if !now.Before(t.ExpiresAt) {
		return Principal{}, ErrExpired
	}
	u, err := a.users.UserByID(ctx, t.UserID)
	if err != nil || u.Disabled {
		return Principal{}, ErrNoSession
	}
	p, err := a.PrincipalFor(ctx, u)
	if err != nil {
		return Principal{}, err
	}
	p.TokenID = t.ID
	if t.Kind == store.TokenAPI {
		p.Scopes = append(Scopes{}, t.Scopes...)
	}
	if now.Sub(t.LastUsedAt) >= touchEvery || t.LastUsedIP != ip {
		_ = a.users.TouchAPIToken(ctx, t.ID, now, ip) // best effort: a use is not refused for want of its note
	}
	return p, nil
}

// Tokens lists a user's API and CLI tokens, newest first.
func (a *Authenticator) Tokens(ctx context.Context, userID string) ([]store.APIToken, error) {
	return a.users.UserAPITokens(ctx, userID)
}

// TokenByID finds a token (store.ErrNotFound if there is none).
func (a *Authenticator) TokenByID(ctx context.Context, id string) (store.APIToken, error) {
	return a.users.APITokenByID(ctx, id)
}

// RevokeToken revokes a token: its next use is refused.
func (a *Authenticator) RevokeToken(ctx context.Context, id string) error {
	return a.users.RevokeAPIToken(ctx, id, a.cfg.Clock.Now())
}
