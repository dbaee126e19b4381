package sso

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"porthole/broker/audit"
	"porthole/broker/auth"
	"porthole/broker/lifecycle"
	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/wire"
)

// Refusal is a sign-in refused for a reason the audit log records (reason)
// and the user reads (Error).
type Refusal struct {
	Reason  string // no_mapped_group, username_invalid, name_taken, disabled, deleted, unknown_device_group, last_admin
	Message string
	UserID  string // the account it concerns, if any
}

func (r *Refusal) Error() string { return r.Message }
func (r *Refusal) Unwrap() error { return ErrRefused }

func refuse(reason, userID, format string, args ...any) error {
	return &Refusal{Reason: reason, UserID: userID, Message: fmt.Sprintf(format, args...)}
}

// provisionStore is what Provision reads and writes (store.Store).
type provisionStore interface {
	Identity(ctx context.Context, issuer, subject string) (store.OIDCIdentity, error)
	UserByID(ctx context.Context, id string) (store.User, error)
	UserByName(ctx context.Context, name string) (store.User, error)
	UserGroups(ctx context.Context, userID string) ([]string, error)
	Groups(ctx context.Context) ([]store.Group, error)
	CreateUserWithIdentity(ctx context.Context, u store.User, groups []string, id store.OIDCIdentity) error
	TouchIdentity(ctx context.Context, issuer, subject string, at time.Time) error
}

// roles changes a user's role and bindings with the kill switch's
// cascade (lifecycle.Service).
type roles interface {
	SetRole(ctx context.Context, who lifecycle.Actor, id, role string, groups []string) (lifecycle.Result, error)
}

type auditor interface {
	Append(ctx context.Context, e audit.Event) (store.AuditRecord, error)
}

// Provisioner turns verified identities into users.
type Provisioner struct {
	Store provisionStore
	Roles roles
	Audit auditor
	Clock clock.Clock
}

// Outcome says what a sign-in did to the user.
type Outcome struct {
	Created bool
	// RoleChanged: the groups' mapping changed the role or bindings
	// (audited user.role_changed old → new by the provider).
	RoleChanged bool
	Mapping     Mapping
}

// Provision finds or creates the user of id and brings their role and
// device-group bindings in line with their IdP groups now. It refuses
// (a *Refusal) a user in no mapped group, a disabled or deleted account,
// a new identity whose name cannot be a Porthole username or belongs to
// an existing account (no silent takeover: an admin links it), and a
// mapping that names an unknown device group.
func (pr *Provisioner) Provision(ctx context.Context, cfg ProviderConfig, id Identity, ip string) (store.User, Outcome, error) {
	m, ok := cfg.Map(id.Groups)
	link, lerr := pr.Store.Identity(ctx, id.Issuer, id.Subject)
	if lerr != nil && !errors.Is(lerr, store.ErrNotFound) {
		return store.User{}, Outcome{}, lerr
	}
	linked := lerr == nil
	if !ok {
		return store.User{}, Outcome{}, refuse("no_mapped_group", link.UserID,
			"your account at %s is in none of the groups that give access to Porthole; ask your administrator", cfg.Name)
	}
	groups, err := pr.deviceGroups(ctx, m.DeviceGroups)
	if err != nil {
		return store.User{}, Outcome{}, err
	}
	out := Outcome{Mapping: m}
	if !linked {
		u, err := pr.create(ctx, cfg, id, m, groups, ip)
		if err != nil {
			return store.User{}, Outcome{}, err
		}
		out.Created = true
		return u, out, nil
	}
	u, err := pr.Store.UserByID(ctx, link.UserID)
	if err != nil {
		return store.User{}, Outcome{}, err
	}
	switch {
	case u.Deleted():
		return store.User{}, Outcome{}, refuse("deleted", u.ID, "this account was deleted")
	case u.Disabled:
		return store.User{}, Outcome{}, refuse("disabled", u.ID, "this account is disabled; ask your administrator")
	}
	current, err := pr.Store.UserGroups(ctx, u.ID)
	if err != nil {
		return store.User{}, Outcome{}, err
	}
	same := u.Role == m.Role && u.GroupBound == (groups != nil) && (!u.GroupBound || slices.Equal(current, groups))
	if !same {
		who := lifecycle.Actor{Username: "the identity provider " + cfg.Name, As: "sso:" + cfg.ID, SourceIP: ip}
		res, err := pr.Roles.SetRole(ctx, who, u.ID, m.Role, groups)
		if errors.Is(err, store.ErrLastAdmin) {
			return store.User{}, Outcome{}, refuse("last_admin", u.ID,
				"your groups at %s no longer make you an admin, and you are the last enabled admin: another admin must be enabled first", cfg.Name)
		}
		if err != nil {
			return store.User{}, Outcome{}, err
		}
		out.RoleChanged = true
		u.Role, u.GroupBound = res.User.Role, res.User.Groups != nil
	}
	if err := pr.Store.TouchIdentity(ctx, id.Issuer, id.Subject, pr.Clock.Now()); err != nil {
		return store.User{}, Outcome{}, err
	}
	return u, out, nil
}

// deviceGroups resolves a mapping's device groups (names or ids) to ids;
// nil stays nil (every device). An unknown one refuses the sign-in: a
// mapping that cannot be applied must not widen or narrow rights by guess.
func (pr *Provisioner) deviceGroups(ctx context.Context, names []string) ([]string, error) {
	if names == nil {
		return nil, nil
	}
	all, err := pr.Store.Groups(ctx)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, n := range names {
		i := slices.IndexFunc(all, func(g store.Group) bool { return g.ID == n || g.Name == n })
		if i < 0 {
			return nil, refuse("unknown_device_group", "", "the group mapping names device group %q, which does not exist; ask your administrator", n)
		}
		ids = append(ids, all[i].ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// Username turns the username claim into a Porthole username: domain
// stripped if configured, case-folded, and checked (ASCII letters, digits
// and . - _ @). A name that does not fit is refused, never altered further.
func Username(cfg ProviderConfig, claim string) (string, error) {
	name := claim
	if cfg.StripDomain {
		if i := strings.LastIndexByte(name, '@'); i > 0 {
			name = name[:i]
		}
	}
	name = wire.FoldUsername(name)
	if claim == "" {
		return "", refuse("username_invalid", "", "%s sent no %q claim to name your Porthole account", cfg.Name, cfg.UsernameClaim)
	}
	if err := wire.ValidateUsername(name); err != nil {
		return "", refuse("username_invalid", "",
			"your %s name %q cannot be a Porthole username (2..64 ASCII letters, digits and . - _ @); ask your administrator", cfg.Name, claim)
	}
	return name, nil
}

func (pr *Provisioner) create(ctx context.Context, cfg ProviderConfig, id Identity, m Mapping, groups []string, ip string) (store.User, error) {
	name, err := Username(cfg, id.Username)
	if err != nil {
		return store.User{}, err
	}
	if old, err := pr.Store.UserByName(ctx, name); err == nil {
		return store.User{}, refuse("name_taken", old.ID,
			"a Porthole account named %q exists already and is not linked to your %s account; an administrator must link them", name, cfg.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.User{}, err
	}
	now := pr.Clock.Now()
	u := store.User{ID: auth.NewID(), Username: name, Role: m.Role, CreatedAt: now, GroupBound: groups != nil}
	details := map[string]any{"username": name, "role": m.Role, "provider": cfg.ID, "issuer": id.Issuer, "subject": id.Subject,
		"idp_groups": m.Matched, "via": "sso"}
	if groups != nil {
		details["groups"] = groups
	}
	// Audit first: a user that cannot be recorded is not created.
	if _, err := pr.Audit.Append(ctx, audit.Event{Actor: "sso:" + cfg.ID, Action: "user.created", Target: u.ID, SourceIP: ip, Details: details}); err != nil {
		return store.User{}, fmt.Errorf("audit user.created: %w", err)
	}
	err = pr.Store.CreateUserWithIdentity(ctx, u, groups, store.OIDCIdentity{Issuer: id.Issuer, Subject: id.Subject, Provider: cfg.ID,
		CreatedAt: now, LastLoginAt: now})
	if errors.Is(err, store.ErrConflict) {
		return store.User{}, refuse("name_taken", "", "a Porthole account named %q exists already; an administrator must link it", name)
	}
	return u, err
}
