// Package lifecycle changes portal users — create, disable, enable, change
// role and group bindings, reset password, reset MFA, delete — and makes
// each change take effect everywhere at once: the kill switch.
//
// Disabling, deleting and resetting a password or MFA end all of the
// user's portal sessions, close every websocket they hold open (live
// events, session signalling), revoke every API and CLI token and end the
// remote support sessions they run. A role change closes their live-events
// websockets (the page reconnects and is checked again) and ends the remote
// sessions the new role no longer covers; portal sessions and tokens are
// checked against the current role at every request anyway.
//
// Each change is one audit record (user.disabled, user.enabled,
// user.role_changed, user.password_reset, mfa.reset, user.deleted) whose
// "cascade" lists what it ended. The order keeps the audit log honest and
// fail-closed: the user's row changes first (so nothing new can start),
// then the record is written — if that fails the row is restored and
// nothing else happens — and only then are sessions, websockets, tokens and
// remote sessions ended.
//
// No change may leave the broker without an enabled admin (the store
// refuses it in the same transaction). A deleted user stays as a tombstone
// (disabled, no credentials left) so audit records that name them stay
// readable and their name is never given to someone else.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"porthole/broker/audit"
	"porthole/broker/auth"
	"porthole/broker/conns"
	"porthole/broker/mfa"
	"porthole/broker/sessions"
	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

// Errors, matched with errors.Is (the store's ErrNotFound, ErrConflict
// ErrLastAdmin and ErrUnknownGroup, and mfa.ErrNotEnrolled pass through).
var (
	// ErrNotBindable: only technicians can be bound to device groups.
	ErrNotBindable = errors.New("only the technician role can be bound to device groups")
	// ErrDeletedName: the name belonged to a deleted user, whom audit records still name.
	ErrDeletedName = errors.New("that username belonged to a deleted user (audit records still name them); choose another")
)

type userStore interface {
	UserByID(ctx context.Context, id string) (store.User, error)
	UserByName(ctx context.Context, name string) (store.User, error)
	Users(ctx context.Context) ([]store.User, error)
	RoleBindings(ctx context.Context) (map[string][]string, error)
	CreateUserIn(ctx context.Context, u store.User, groups []string) error
	ChangeUser(ctx context.Context, id string, c store.UserChange) (before, after store.UserState, err error)
	RestoreUser(ctx context.Context, st store.UserState) error
	CountUserWebSessions(ctx context.Context, userID string) (int, error)
	DeleteUserWebSessions(ctx context.Context, userID string) (int, error)
	ActiveUserAPITokens(ctx context.Context, userID string, now time.Time) ([]string, error)
	RevokeUserAPITokens(ctx context.Context, userID string, at time.Time) ([]string, error)
	DeviceGroup(ctx context.Context, deviceID string) (string, error)
	UserWebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error)
	DeleteUserWebAuthnCredentials(ctx context.Context, userID string) (int, error)
	DeleteUserIdentities(ctx context.Context, userID string) (int, error)
}

// principals builds a user's rights (auth.Authenticator).
type principals interface {
	PrincipalFor(ctx context.Context, u store.User) (auth.Principal, error)
}

// websockets are the open portal and API websockets (conns.Registry).
type websockets interface {
	List(match func(conns.Info) bool) []conns.Info
	Close(match func(conns.Info) bool, reason string) []string
}

// remoteSessions are the live support sessions (sessions.Manager).
type remoteSessions interface {
	Live() []sessions.Info
	EndWhere(ctx context.Context, reason string, match func(context.Context, sessions.Info) (bool, error)) ([]string, error)
}

// secondFactor is the user's TOTP enrollment (mfa.Manager).
type secondFactor interface {
	Status(ctx context.Context, userID string) (mfa.Status, error)
	Reset(ctx context.Context, userID string) error
}

type auditor interface {
	Append(ctx context.Context, e audit.Event) (store.AuditRecord, error)
}

// Config wires a Service. MFA may be nil (no second factor configured).
type Config struct {
	Store      userStore
	Principals principals
	Conns      websockets
	Sessions   remoteSessions
	MFA        secondFactor
	Audit      auditor
	Clock      clock.Clock
	Logger     *slog.Logger
	// NewPassword generates passwords (default auth.NewPassword) and
	// HashPassword hashes them (the broker passes the Authenticator's
	// bounded HashPassword; default auth.HashPassword); tests may use
	// cheaper ones.
	NewPassword  func() string
	HashPassword func(context.Context, string) (string, error)
}

// Service runs the user lifecycle.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NewPassword == nil {
		cfg.NewPassword = auth.NewPassword
	}
	if cfg.HashPassword == nil {
		cfg.HashPassword = func(_ context.Context, pw string) (string, error) { return auth.HashPassword(pw) }
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "lifecycle")}
}

// Actor is the admin making a change.
type Actor struct {
	Username string
	SourceIP string
	// As, when set, is the audit actor instead of "user:USERNAME" (an
	// identity provider's sign-in changing a role: "sso:PROVIDER"); then
	// Username is how messages name it.
	As string
}

// Cascade is what a change ended, as its audit record lists it.
type Cascade struct {
	PortalSessions int      `json:"portal_sessions_ended"`
	Websockets     []string `json:"websockets_closed"`
	Tokens         []string `json:"tokens_revoked"`
	RemoteSessions []string `json:"remote_sessions_terminated"`
}

func (c Cascade) details() map[string]any {
	return map[string]any{"portal_sessions_ended": c.PortalSessions, "websockets_closed": orNone(c.Websockets),
		"tokens_revoked": orNone(c.Tokens), "remote_sessions_terminated": orNone(c.RemoteSessions)}
}

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// union adds to c what more also ended (something that started between
// the plan and the cascade is ended too; the audit record lists the plan).
func (c Cascade) union(more Cascade) Cascade {
	merge := func(a, b []string) []string {
		out := append(slices.Clone(orNone(a)), b...)
		slices.Sort(out)
		return slices.Compact(out)
	}
	return Cascade{PortalSessions: max(c.PortalSessions, more.PortalSessions), Websockets: merge(c.Websockets, more.Websockets),
		Tokens: merge(c.Tokens, more.Tokens), RemoteSessions: merge(c.RemoteSessions, more.RemoteSessions)}
}

// User is a user as the portal and CLI see it.
type User struct {
	ID       string    `json:"id"`
	Username string    `json:"username"`
	Role     string    `json:"role"`
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created_at"`
	// Groups are the device groups the role's device rights are bound to;
	// null: every device.
	Groups    []string   `json:"groups"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}

func view(u store.User, groups []string) User {
	v := User{ID: u.ID, Username: u.Username, Role: u.Role, Disabled: u.Disabled, Created: u.CreatedAt}
	if u.GroupBound {
		v.Groups = orNone(groups)
	}
	if u.Deleted() {
		t := u.DeletedAt
		v.DeletedAt = &t
	}
	return v
}

// Result is the outcome of a change: the user after it, what it ended,
// and a generated password (create, reset-password; shown once).
type Result struct {
	User     User    `json:"user"`
	Cascade  Cascade `json:"cascade"`
	Password string  `json:"password,omitempty"`
}

// List returns the users by name; deleted ones only when withDeleted.
func (s *Service) List(ctx context.Context, withDeleted bool) ([]User, error) {
	us, err := s.cfg.Store.Users(ctx)
	if err != nil {
		return nil, err
	}
	bindings, err := s.cfg.Store.RoleBindings(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(us))
	for _, u := range us {
		if u.Deleted() && !withDeleted {
			continue
		}
		out = append(out, view(u, bindings[u.ID]))
	}
	return out, nil
}

// Find returns a live (not deleted) user by id.
func (s *Service) Find(ctx context.Context, id string) (store.User, error) {
	u, err := s.cfg.Store.UserByID(ctx, id)
	if err == nil && u.Deleted() {
		err = fmt.Errorf("user %s: %w", id, store.ErrNotFound)
	}
	return u, err
}

// checkRole validates a role and its group bindings (nil: every device).
func checkRole(role string, groups []string) (auth.Role, error) {
	r, err := auth.ParseRole(role)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errBadRole, err)
	}
	if groups != nil && !r.Bindable() {
		return "", ErrNotBindable
	}
	return r, nil
}

var errBadRole = errors.New("bad role")

// IsBadRole reports whether err is an unknown role name.
func IsBadRole(err error) bool { return errors.Is(err, errBadRole) }

// Create adds a user with a generated password (returned once), bound to
// groups when groups is not nil.
func (s *Service) Create(ctx context.Context, who Actor, username, role string, groups []string) (Result, error) {
	username = wire.FoldUsername(username)
	if _, err := checkRole(role, groups); err != nil {
		return Result{}, err
	}
	if old, err := s.cfg.Store.UserByName(ctx, username); err == nil {
		if old.Deleted() {
			return Result{}, ErrDeletedName
		}
		return Result{}, fmt.Errorf("user %q: %w", username, store.ErrConflict)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Result{}, err
	}
	pw := s.cfg.NewPassword()
	hash, err := s.cfg.HashPassword(ctx, pw)
	if err != nil {
		return Result{}, err
	}
	u := store.User{ID: auth.NewID(), Username: username, PasswordHash: hash, Role: role, CreatedAt: s.cfg.Clock.Now(), GroupBound: groups != nil}
	details := map[string]any{"username": username, "role": role}
	if groups != nil {
		details["groups"] = orNone(groups)
	}
	if err := s.record(ctx, who, "user.created", u.ID, details); err != nil {
		return Result{}, err
	}
	if err := s.cfg.Store.CreateUserIn(ctx, u, groups); err != nil {
		return Result{}, err
	}
	return Result{User: view(u, groups), Password: pw}, nil
}

// Disable locks a user out everywhere at once.
func (s *Service) Disable(ctx context.Context, who Actor, id string) (Result, error) {
	on := true
	return s.change(ctx, who, id, "user.disabled", store.UserChange{Disabled: &on}, nil, func(u store.User) string {
		return fmt.Sprintf("%s's account was disabled by %s", u.Username, who.Username)
	})
}

// Enable lets a disabled user log in again (their old sessions and tokens stay ended).
func (s *Service) Enable(ctx context.Context, who Actor, id string) (Result, error) {
	off := false
	return s.change(ctx, who, id, "user.enabled", store.UserChange{Disabled: &off}, nil, nil)
}

// ResetPassword gives a user a new generated password (returned once) and
// ends everything the old one let them do.
func (s *Service) ResetPassword(ctx context.Context, who Actor, id string) (Result, error) {
	pw := s.cfg.NewPassword()
	hash, err := s.cfg.HashPassword(ctx, pw)
	if err != nil {
		return Result{}, err
	}
	res, err := s.change(ctx, who, id, "user.password_reset", store.UserChange{PasswordHash: &hash}, nil, func(u store.User) string {
		return fmt.Sprintf("%s's password was reset by %s", u.Username, who.Username)
	})
	if err == nil {
		res.Password = pw
	}
	return res, err
}

// Delete removes a user: a tombstone stays (see the package comment), and
// their MFA enrollment, passkeys, IdP identity links, sessions, tokens and
// role bindings go (a new sign-in at the IdP is then a new account, under
// another name: the tombstone keeps this one).
func (s *Service) Delete(ctx context.Context, who Actor, id string) (Result, error) {
	on, now, none := true, s.cfg.Clock.Now(), []string(nil)
	return s.change(ctx, who, id, "user.deleted", store.UserChange{Disabled: &on, DeletedAt: &now, Groups: &none},
		func(ctx context.Context, u store.User) error {
			if _, err := s.cfg.Store.DeleteUserWebAuthnCredentials(ctx, u.ID); err != nil {
				return err
			}
			if _, err := s.cfg.Store.DeleteUserIdentities(ctx, u.ID); err != nil {
				return err
			}
			if s.cfg.MFA == nil {
				return nil
			}
			if err := s.cfg.MFA.Reset(ctx, u.ID); err != nil && !errors.Is(err, mfa.ErrNotEnrolled) {
				return err
			}
			return nil
		},
		func(u store.User) string {
			return fmt.Sprintf("%s's account was deleted by %s", u.Username, who.Username)
		})
}

// ResetMFA removes a user's second factors — the TOTP enrollment with its
// recovery codes, and every passkey (a lost security key) — which they set
// up again at their next login. Everything the old factors let them do ends.
func (s *Service) ResetMFA(ctx context.Context, who Actor, id string) (Result, error) {
	if s.cfg.MFA == nil {
		return Result{}, errNoMFA
	}
	u, err := s.Find(ctx, id)
	if err != nil {
		return Result{}, err
	}
	st, err := s.cfg.MFA.Status(ctx, u.ID)
	if err != nil {
		return Result{}, err
	}
	keys, err := s.cfg.Store.UserWebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return Result{}, err
	}
	if !st.Enrolled && len(keys) == 0 {
		return Result{}, mfa.ErrNotEnrolled
	}
	reason := fmt.Sprintf("%s's two-factor authentication was reset by %s", u.Username, who.Username)
	plan, err := s.plan(ctx, u)
	if err != nil {
		return Result{}, err
	}
	if err := s.record(ctx, who, "mfa.reset", u.ID, map[string]any{"username": u.Username, "cascade": plan.details(),
		"totp": st.Enrolled, "passkeys_removed": len(keys)}); err != nil {
		return Result{}, err
	}
	if st.Enrolled {
		if err := s.cfg.MFA.Reset(ctx, u.ID); err != nil {
			return Result{}, err
		}
	}
	if _, err := s.cfg.Store.DeleteUserWebAuthnCredentials(ctx, u.ID); err != nil {
		return Result{}, err
	}
	done, err := s.lockOut(ctx, u, reason)
	return s.result(ctx, u, plan.union(done)), err
}

var errNoMFA = errors.New("mfa is not configured")

// SetRole changes a user's role, bound to device groups when groups is
// not nil (technicians only). The user's live-events websockets are closed
// (their pages reconnect under the new role) and remote sessions the new
// role does not cover end.
func (s *Service) SetRole(ctx context.Context, who Actor, id, role string, groups []string) (Result, error) {
	if _, err := checkRole(role, groups); err != nil {
		return Result{}, err
	}
	if groups != nil {
		groups = orNone(groups)
	}
	u, err := s.Find(ctx, id)
	if err != nil {
		return Result{}, err
	}
	before, after, err := s.cfg.Store.ChangeUser(ctx, u.ID, store.UserChange{Role: &role, Groups: &groups})
	if err != nil {
		return Result{}, err
	}
	reason := fmt.Sprintf("%s's role was changed by %s", u.Username, who.Username)
	plan := Cascade{Websockets: infoIDs(s.cfg.Conns.List(conns.And(conns.ByUser(u.ID), conns.OfKind(conns.Events))))}
	uncovered := s.uncovered(after.User)
	for _, l := range s.cfg.Sessions.Live() {
		if ok, err := uncovered(ctx, l); err != nil {
			s.restore(ctx, before)
			return Result{}, err
		} else if ok {
			plan.RemoteSessions = append(plan.RemoteSessions, l.ID)
		}
	}
	details := map[string]any{"username": u.Username, "old_role": before.User.Role, "role": role, "cascade": plan.details()}
	if before.User.GroupBound {
		details["old_groups"] = orNone(before.Groups)
	}
	if groups != nil {
		details["groups"] = groups
	}
	if err := s.record(ctx, who, "user.role_changed", u.ID, details); err != nil {
		s.restore(ctx, before)
		return Result{}, err
	}
	ended, err := s.cfg.Sessions.EndWhere(ctx, reason, uncovered)
	done := Cascade{RemoteSessions: ended,
		Websockets: s.cfg.Conns.Close(conns.And(conns.ByUser(u.ID), conns.OfKind(conns.Events)), reason)}
	return Result{User: view(after.User, after.Groups), Cascade: plan.union(done)}, err
}

// Recheck ends the live remote sessions whose requester's rights no longer
// cover them (access.standing changed, a role binding's group lost the
// device). It returns the sessions ended.
func (s *Service) Recheck(ctx context.Context, reason string) ([]string, error) {
	users := map[string]store.User{}
	return s.cfg.Sessions.EndWhere(ctx, reason, func(ctx context.Context, l sessions.Info) (bool, error) {
		u, ok := users[l.Requester]
		if !ok {
			var err error
			if u, err = s.cfg.Store.UserByName(ctx, l.Requester); err != nil && !errors.Is(err, store.ErrNotFound) {
				return false, err
			}
			users[l.Requester] = u
		}
		if u.ID == "" || u.Disabled {
			return l.Grant == "", nil // a session of a user who is gone runs under a grant at most
		}
		return s.uncovered(u)(ctx, l)
	})
}

// uncovered says whether a live session of u's runs on neither an access
// grant (which the session checks itself) nor u's role on its device.
func (s *Service) uncovered(u store.User) func(context.Context, sessions.Info) (bool, error) {
	return func(ctx context.Context, l sessions.Info) (bool, error) {
		if l.Requester != u.Username || l.Grant != "" {
			return false, nil
		}
		p, err := s.cfg.Principals.PrincipalFor(ctx, u)
		if err != nil {
			return false, err
		}
		group, err := s.cfg.Store.DeviceGroup(ctx, l.DeviceID)
		if err != nil {
			return false, err
		}
		return !p.CanOn(auth.ConnectDevice, group), nil
	}
}

// change applies c to a live user, audits action with the cascade it
// plans, restoring the user if that fails, then runs also (if any) and —
// when reason is set — the full lock-out.
func (s *Service) change(ctx context.Context, who Actor, id, action string, c store.UserChange,
	also func(context.Context, store.User) error, reason func(store.User) string) (Result, error) {
	u, err := s.Find(ctx, id)
	if err != nil {
		return Result{}, err
	}
	before, after, err := s.cfg.Store.ChangeUser(ctx, u.ID, c)
	if err != nil {
		return Result{}, err
	}
	var plan Cascade
	if reason != nil {
		if plan, err = s.plan(ctx, u); err != nil {
			s.restore(ctx, before)
			return Result{}, err
		}
	}
	details := map[string]any{"username": u.Username, "role": u.Role}
	if reason != nil {
		details["cascade"] = plan.details()
	}
	if err := s.record(ctx, who, action, u.ID, details); err != nil {
		s.restore(ctx, before)
		return Result{}, err
	}
	if also != nil {
		if err := also(ctx, after.User); err != nil {
			return Result{}, err
		}
	}
	if reason == nil {
		return Result{User: view(after.User, after.Groups)}, nil
	}
	done, err := s.lockOut(ctx, after.User, reason(u))
	return Result{User: view(after.User, after.Groups), Cascade: plan.union(done)}, err
}

// restore undoes a user change whose audit record could not be written.
func (s *Service) restore(ctx context.Context, before store.UserState) {
	if err := s.cfg.Store.RestoreUser(context.WithoutCancel(ctx), before); err != nil {
		s.log.Error("restore user after a failed audit", "user_id", before.User.ID, "err", err)
	}
}

// plan lists what a lock-out of u would end now.
func (s *Service) plan(ctx context.Context, u store.User) (Cascade, error) {
	var c Cascade
	var err error
	if c.PortalSessions, err = s.cfg.Store.CountUserWebSessions(ctx, u.ID); err != nil {
		return c, err
	}
	if c.Tokens, err = s.cfg.Store.ActiveUserAPITokens(ctx, u.ID, s.cfg.Clock.Now()); err != nil {
		return c, err
	}
	c.Websockets = infoIDs(s.cfg.Conns.List(conns.ByUser(u.ID)))
	for _, l := range s.cfg.Sessions.Live() {
		if l.Requester == u.Username {
			c.RemoteSessions = append(c.RemoteSessions, l.ID)
		}
	}
	return c, nil
}

// lockOut ends everything u holds: remote sessions first (their viewers
// are told why), then websockets, portal sessions and tokens. It goes on
// past a failure and returns the first.
func (s *Service) lockOut(ctx context.Context, u store.User, reason string) (Cascade, error) {
	var c Cascade
	var errs []error
	ended, err := s.cfg.Sessions.EndWhere(ctx, reason, func(_ context.Context, l sessions.Info) (bool, error) {
		return l.Requester == u.Username, nil
	})
	c.RemoteSessions = ended
	errs = append(errs, err)
	c.Websockets = s.cfg.Conns.Close(conns.ByUser(u.ID), reason)
	c.PortalSessions, err = s.cfg.Store.DeleteUserWebSessions(ctx, u.ID)
	errs = append(errs, err)
	c.Tokens, err = s.cfg.Store.RevokeUserAPITokens(ctx, u.ID, s.cfg.Clock.Now())
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		s.log.Error("lock-out incomplete", "user_id", u.ID, "err", err)
		return c, err
	}
	s.log.Info("user locked out", "user_id", u.ID, "remote_sessions", len(c.RemoteSessions), "websockets", len(c.Websockets),
		"portal_sessions", c.PortalSessions, "tokens", len(c.Tokens))
	return c, nil
}

func (s *Service) result(ctx context.Context, u store.User, c Cascade) Result {
	groups := []string(nil)
	if u.GroupBound {
		bs, err := s.cfg.Store.RoleBindings(ctx)
		if err == nil {
			groups = bs[u.ID]
		}
	}
	return Result{User: view(u, groups), Cascade: c}
}

func infoIDs(is []conns.Info) []string {
	out := make([]string, 0, len(is))
	for _, i := range is {
		out = append(out, i.ID)
	}
	return out
}

func (s *Service) record(ctx context.Context, who Actor, action, target string, details map[string]any) error {
	actor := "user:" + who.Username
	if who.As != "" {
		actor = who.As
	}
	_, err := s.cfg.Audit.Append(ctx, audit.Event{Actor: actor, Action: action, Target: target, SourceIP: who.SourceIP,
		Details: details})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
