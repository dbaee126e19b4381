package elevation

// Elevation on Windows: temporary membership of BUILTIN\Administrators,
// written against the Win32 calls it makes so that their order and
// arguments are unit-tested on any OS (wingroup_test.go, against
// winlocaltest.Machine); system_windows.go plugs in winlocal.Win32.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"porthole/agent/winlocal"
)

// groups is what elevation calls in advapi32 and netapi32.
type groups interface {
	LookupSID(sid string) (winlocal.Account, error)
	LookupName(name string) (winlocal.Account, error)
	LocalGroupAddMember(group, sid string) error
	LocalGroupDelMember(group, sid string) error
	LocalGroupMembers(group string) ([]string, error)
}

// adminsGroup grants by adding the user's SID to the group whose SID is
// winlocal.AdministratorsSID, whatever it is called on this machine.
// Rights apply to processes started afterwards (a new logon, or "Run as
// administrator" with the user's own password); processes already
// elevated keep their token after the grant ends, and the recorder
// follows them until they exit.
type adminsGroup struct {
	api groups
	log *slog.Logger
}

func sysErr(call string, err error) error { return fmt.Errorf("%w: %s: %w", ErrSystem, call, err) }

// group is the localised name of Administrators.
func (g adminsGroup) group() (string, error) {
	name, err := winlocal.AdminsGroup(g.api)
	if err != nil {
		return "", sysErr("administrators group", err)
	}
	return name, nil
}

// lookup resolves the user name (local, or a directory account allowed to
// log on here) to its SID; groups and well-known accounts are refused.
func (g adminsGroup) lookup(_ context.Context, name string) (string, error) {
	a, err := g.api.LookupName(name)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrBadUser, name, err)
	}
	if a.Type != winlocal.SidTypeUser {
		return "", fmt.Errorf("%w: %s is not a user account", ErrBadUser, a.Qualified())
	}
	return a.SID, nil
}

// grant adds sid to Administrators. A user who is a member already gets
// errAlreadyAdmin: the Manager decides whether that membership is its own.
func (g adminsGroup) grant(_ context.Context, name, sid string, _ time.Time) error {
	group, err := g.group()
	if err != nil {
		return err
	}
	err = g.api.LocalGroupAddMember(group, sid)
	switch {
	case errors.Is(err, winlocal.ErrorMemberInAlias):
		return fmt.Errorf("%w: %s is a member of %s", errAlreadyAdmin, name, group)
	case err != nil:
		return sysErr("NetLocalGroupAddMembers "+group, err)
	}
	return nil
}

// revoke removes the user's SID from Administrators: the SID recorded at
// the grant, so a user deleted or renamed meanwhile is still removed.
func (g adminsGroup) revoke(_ context.Context, name, sid string) error {
	if sid == "" {
		a, err := g.api.LookupName(name)
		if errors.Is(err, winlocal.ErrorNoneMapped) {
			return nil // no such user, so no membership
		}
		if err != nil {
			return sysErr("LookupAccountName "+name, err)
		}
		sid = a.SID
	}
	group, err := g.group()
	if err != nil {
		return err
	}
	if err := g.api.LocalGroupDelMember(group, sid); err != nil && !errors.Is(err, winlocal.ErrorMemberNotInAlias) {
		return sysErr("NetLocalGroupDelMembers "+group, err)
	}
	return nil
}

// granted returns the users of ours that are members of Administrators
// now. Members the journal does not hold as porthole's are never listed,
// so never touched.
func (g adminsGroup) granted(_ context.Context, ours map[string]string) ([]string, error) {
	if len(ours) == 0 {
		return nil, nil
	}
	group, err := g.group()
	if err != nil {
		return nil, err
	}
	members, err := g.api.LocalGroupMembers(group)
	if err != nil {
		return nil, sysErr("NetLocalGroupGetMembers "+group, err)
	}
	var out []string
	for user, sid := range ours {
		if sid != "" && slices.ContainsFunc(members, func(m string) bool { return strings.EqualFold(m, sid) }) {
			out = append(out, user)
		}
	}
	slices.Sort(out)
	return out, nil
}
