package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"porthole/internal/wire"
)

const userUsage = "usage: porthole user list [--all] | unlock USER | create NAME --role ROLE [--group G]... | " +
	"disable|enable|reset-password|reset-mfa|delete USER | role USER ROLE [--group G]...   (USER: id or name; each takes --json)"

// portalUser is a user as GET /api/users lists it.
type portalUser struct {
	ID        string     `json:"id"`
	Username  string     `json:"username"`
	Role      string     `json:"role"`
	Disabled  bool       `json:"disabled"`
	CreatedAt time.Time  `json:"created_at"`
	Groups    []string   `json:"groups"`
	DeletedAt *time.Time `json:"deleted_at"`
}

// userResult is the broker's answer to a lifecycle change.
type userResult struct {
	User     portalUser `json:"user"`
	Password string     `json:"password"`
	Cascade  struct {
		PortalSessions int      `json:"portal_sessions_ended"`
		Websockets     []string `json:"websockets_closed"`
		Tokens         []string `json:"tokens_revoked"`
		RemoteSessions []string `json:"remote_sessions_terminated"`
	} `json:"cascade"`
}

// listFlag collects a repeatable flag; commas also separate values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}

// userVerbs are the changes that take only the user: verb → method, path suffix, past tense.
var userVerbs = map[string]struct{ method, suffix, done string }{
	"disable":        {"POST", "/disable", "Disabled"},
	"enable":         {"POST", "/enable", "Enabled"},
	"reset-password": {"POST", "/password/reset", "Reset the password of"},
	"reset-mfa":      {"POST", "/mfa/reset", "Reset two-factor authentication of"},
	"delete":         {"DELETE", "", "Deleted"},
}

// cmdUser manages portal users (admins): porthole user list|create|disable|enable|role|reset-password|reset-mfa|delete.
func cmdUser(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New(userUsage)}
	}
	verb, args := args[0], args[1:]
	var groups listFlag
	groupFlag := func(fs *flag.FlagSet) {
		fs.Var(&groups, "group", "bind the technician role to this device group (id or name; repeat or comma-separate); none: every device")
	}
	switch verb {
	case "unlock":
		return cmdUserUnlock(ctx, args, out)
	case "list":
		var all *bool
		_, asJSON, err := verbArgs("user list", userUsage, args, 0, func(fs *flag.FlagSet) {
			all = fs.Bool("all", false, "include deleted users")
		})
		if err != nil {
			return err
		}
		return userList(ctx, out, asJSON, *all)
	case "create":
		var role *string
		pos, asJSON, err := verbArgs("user create", userUsage, args, 1, func(fs *flag.FlagSet) {
			role = fs.String("role", "technician", "admin, technician, approver or auditor")
			groupFlag(fs)
		})
		if err != nil {
			return err
		}
		gs, err := groupIDs(ctx, groups)
		if err != nil {
			return err
		}
		req := wire.UserRequest{Username: pos[0], Role: *role, Groups: gs}
		if err := req.Validate(); err != nil {
			return &exitError{2, err}
		}
		var res struct {
			ID       string `json:"id"`
			Username string `json:"username"`
			Role     string `json:"role"`
			Password string `json:"password"`
		}
		if err := authed(ctx, "POST", "/api/users", req, &res); err != nil {
			return err
		}
		if asJSON {
			return printJSON(out, res)
		}
		_, err = fmt.Fprintf(out, "Created %s (%s, %s%s). Initial password (shown once):\n\n    %s\n\n", res.Username, res.ID, res.Role,
			onGroups(groups), res.Password)
		return err
	case "role":
		pos, asJSON, err := verbArgs("user role", userUsage, args, 2, groupFlag)
		if err != nil {
			return err
		}
		gs, err := groupIDs(ctx, groups)
		if err != nil {
			return err
		}
		req := wire.RoleRequest{Role: pos[1], Groups: gs}
		if err := req.Validate(); err != nil {
			return &exitError{2, err}
		}
		return userChange(ctx, out, asJSON, pos[0], "PUT", "/role", req, "Changed the role of", " to "+pos[1]+onGroups(groups))
	}
	v, ok := userVerbs[verb]
	if !ok {
		return &exitError{2, fmt.Errorf("unknown user command %q\n%s", verb, userUsage)}
	}
	pos, asJSON, err := verbArgs("user "+verb, userUsage, args, 1, nil)
	if err != nil {
		return err
	}
	return userChange(ctx, out, asJSON, pos[0], v.method, v.suffix, nil, v.done, "")
}

func onGroups(groups []string) string {
	if len(groups) == 0 {
		return ""
	}
	return " on " + strings.Join(groups, ", ")
}

func userList(ctx context.Context, out io.Writer, asJSON, all bool) error {
	path := "/api/users"
	if all {
		path += "?deleted=true"
	}
	names := map[string]string{}
	if !asJSON {
		gs, _, err := fetch[group](ctx, io.Discard, false, "/api/groups")
		if err != nil {
			return err
		}
		for _, g := range gs {
			names[g.ID] = g.Name
		}
	}
	return list(ctx, out, asJSON, path, []string{"ID", "USER", "ROLE", "ON", "STATUS", "CREATED"}, func(u portalUser) []string {
		on := "every device"
		if u.Groups != nil {
			var ns []string
			for _, g := range u.Groups {
				ns = append(ns, cmp.Or(names[g], g))
			}
			on = cmp.Or(strings.Join(ns, ","), "no group")
		}
		status := "enabled"
		switch {
		case u.DeletedAt != nil:
			status = "deleted"
		case u.Disabled:
			status = "disabled"
		}
		return []string{u.ID, u.Username, u.Role, on, status, when(u.CreatedAt)}
	})
}

// findUser resolves a user id or exact name among the live users.
// findUser resolves a user id or name; names are case-insensitive (the
// broker stores them folded), ids are not.
func findUser(ctx context.Context, idOrName string) (portalUser, error) {
	key := func(u portalUser) (string, string) { return u.ID, u.Username }
	u, err := findOne(ctx, "/api/users", "user", idOrName, key)
	if folded := wire.FoldUsername(idOrName); err != nil && folded != idOrName {
		if f, ferr := findOne(ctx, "/api/users", "user", folded, key); ferr == nil {
			return f, nil
		}
	}
	return u, err
}

// groupIDs resolves group ids or names (nil for none).
func groupIDs(ctx context.Context, gs []string) ([]string, error) {
	var out []string
	for _, g := range gs {
		found, err := findGroup(ctx, g)
		if err != nil {
			return nil, err
		}
		out = append(out, found.ID)
	}
	return out, nil
}

// userChange runs one lifecycle change and reports what it ended.
func userChange(ctx context.Context, out io.Writer, asJSON bool, idOrName, method, suffix string, body any, done, tail string) error {
	u, err := findUser(ctx, idOrName)
	if err != nil {
		return err
	}
	var res userResult
	if err := authed(ctx, method, "/api/users/"+url.PathEscape(u.ID)+suffix, body, &res); err != nil {
		return err
	}
	if asJSON {
		return printJSON(out, res)
	}
	fmt.Fprintf(out, "%s %s (%s)%s.\n", done, u.Username, u.ID, tail)
	c := res.Cascade
	if c.PortalSessions > 0 || len(c.Websockets) > 0 || len(c.Tokens) > 0 || len(c.RemoteSessions) > 0 {
		fmt.Fprintf(out, "Ended: %d portal session(s), %d websocket(s), %d token(s) revoked, %d remote session(s)%s.\n",
			c.PortalSessions, len(c.Websockets), len(c.Tokens), len(c.RemoteSessions), idList(c.RemoteSessions))
	}
	if res.Password != "" {
		fmt.Fprintf(out, "New password (shown once):\n\n    %s\n\n", res.Password)
	}
	return nil
}

func idList(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return " (" + strings.Join(ids, ", ") + ")"
}
