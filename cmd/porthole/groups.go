package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"porthole/internal/wire"
)

const groupUsage = "usage: porthole group list [--json] | create NAME | rename ID|NAME NEW_NAME | delete ID|NAME [--force] | " +
	"assign DEVICE_ID GROUP|none   (each takes --json)"

// group is a device group as GET /api/groups lists it.
type group struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Devices   int       `json:"devices"`
}

// groupDeleted is the broker's answer to a delete: what it removed.
type groupDeleted struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	DevicesMoved int      `json:"devices_moved"`
	Devices      []string `json:"devices"`
	Settings     []string `json:"settings_removed"`
	Entitlements []string `json:"entitlements_removed"`
	Revoked      []string `json:"grants_revoked"`
}

// groupArgs is verbArgs for "porthole group VERB".
func groupArgs(verb string, args []string, want int, flags func(*flag.FlagSet)) ([]string, bool, error) {
	return verbArgs("group "+verb, groupUsage, args, want, flags)
}

// verbArgs splits the arguments of a command (name, e.g. "group rename")
// into "POSITIONAL... --flags" (flags may also come first), adds --json
// and the command's own flags, and checks the number of positional
// arguments (usage is the error otherwise).
func verbArgs(name, usage string, args []string, want int, flags func(*flag.FlagSet)) ([]string, bool, error) {
	n := 0
	for n < len(args) && !strings.HasPrefix(args[n], "-") {
		n++
	}
	fs := newFlags(name)
	asJSON := fs.Bool("json", false, "print JSON")
	if flags != nil {
		flags(fs)
	}
	if err := parse(fs, args[n:]); err != nil {
		return nil, false, err
	}
	pos := append(args[:n:n], fs.Args()...)
	if len(pos) != want {
		return nil, false, &exitError{2, errors.New(usage)}
	}
	return pos, *asJSON, nil
}

// cmdGroup manages device groups: porthole group list|create|rename|delete|assign.
func cmdGroup(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New(groupUsage)}
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "list":
		_, asJSON, err := groupArgs(verb, args, 0, nil)
		if err != nil {
			return err
		}
		return list(ctx, out, asJSON, "/api/groups", []string{"ID", "NAME", "DEVICES", "CREATED"}, func(g group) []string {
			return []string{g.ID, g.Name, strconv.Itoa(g.Devices), when(g.CreatedAt)}
		})
	case "create":
		pos, asJSON, err := groupArgs(verb, args, 1, nil)
		if err != nil {
			return err
		}
		return groupChange(ctx, out, asJSON, "POST", "/api/groups", pos[0], "Created group %s (%s).\n")
	case "rename":
		pos, asJSON, err := groupArgs(verb, args, 2, nil)
		if err != nil {
			return err
		}
		g, err := findGroup(ctx, pos[0])
		if err != nil {
			return err
		}
		return groupChange(ctx, out, asJSON, "PUT", "/api/groups/"+url.PathEscape(g.ID), pos[1], "Renamed group "+g.Name+" to %s (%s).\n")
	case "delete":
		var force *bool
		pos, asJSON, err := groupArgs(verb, args, 1, func(fs *flag.FlagSet) {
			force = fs.Bool("force", false, "also delete the entitlements defined on the group")
		})
		if err != nil {
			return err
		}
		return groupDelete(ctx, out, asJSON, pos[0], *force)
	case "assign":
		pos, asJSON, err := groupArgs(verb, args, 2, nil)
		if err != nil {
			return err
		}
		return groupAssign(ctx, out, asJSON, pos[0], pos[1])
	}
	return &exitError{2, fmt.Errorf("unknown group command %q\n%s", verb, groupUsage)}
}

// groupChange creates or renames a group and says so.
func groupChange(ctx context.Context, out io.Writer, asJSON bool, method, path, name, done string) error {
	req := wire.GroupRequest{Name: name}
	if err := req.Validate(); err != nil {
		return &exitError{2, err}
	}
	var g group
	if err := authed(ctx, method, path, req, &g); err != nil {
		return err
	}
	if asJSON {
		return printJSON(out, g)
	}
	_, err := fmt.Fprintf(out, done, g.Name, g.ID)
	return err
}

// findGroup resolves a group id or exact name.
func findGroup(ctx context.Context, idOrName string) (group, error) {
	return findOne(ctx, "/api/groups", "group", idOrName, func(g group) (string, string) { return g.ID, g.Name })
}

// findOne GETs the list at path and returns the item whose id is idOrName,
// else the one whose name is (what names the kind in the error).
func findOne[T any](ctx context.Context, path, what, idOrName string, key func(T) (id, name string)) (T, error) {
	items, _, err := fetch[T](ctx, io.Discard, false, path)
	var zero T
	if err != nil {
		return zero, err
	}
	for _, byName := range []bool{false, true} {
		for _, it := range items {
			if id, name := key(it); (!byName && id == idOrName) || (byName && name == idOrName) {
				return it, nil
			}
		}
	}
	return zero, fmt.Errorf("no %s %q (see 'porthole %s list')", what, idOrName, what)
}

func groupDelete(ctx context.Context, out io.Writer, asJSON bool, idOrName string, force bool) error {
	g, err := findGroup(ctx, idOrName)
	if err != nil {
		return err
	}
	path := "/api/groups/" + url.PathEscape(g.ID)
	if force {
		path += "?force=true"
	}
	var res groupDeleted
	if err := authed(ctx, "DELETE", path, nil, &res); err != nil {
		if strings.Contains(err.Error(), "entitlements") && !force {
			return fmt.Errorf("%w (porthole group delete %s --force deletes them too)", err, g.ID)
		}
		return err
	}
	if asJSON {
		return printJSON(out, res)
	}
	fmt.Fprintf(out, "Deleted group %s (%s). %d device(s) now in no group (global settings apply).\n", res.Name, res.ID, res.DevicesMoved)
	if len(res.Settings) > 0 {
		fmt.Fprintf(out, "Group settings removed: %s\n", strings.Join(res.Settings, ", "))
	}
	if len(res.Entitlements) > 0 {
		fmt.Fprintf(out, "Entitlements removed: %s\n", strings.Join(res.Entitlements, ", "))
	}
	if len(res.Revoked) > 0 {
		fmt.Fprintf(out, "Grants revoked (access requests): %s\n", strings.Join(res.Revoked, ", "))
	}
	return nil
}

// groupAssign moves a device into a group, or out of any ("none").
func groupAssign(ctx context.Context, out io.Writer, asJSON bool, deviceID, idOrName string) error {
	g := group{Name: "no group"}
	if idOrName != "none" {
		var err error
		if g, err = findGroup(ctx, idOrName); err != nil {
			return err
		}
	}
	var res struct {
		GroupID string `json:"group_id"`
	}
	if err := authed(ctx, "PUT", "/api/devices/"+url.PathEscape(deviceID)+"/group", wire.DeviceGroupRequest{GroupID: g.ID}, &res); err != nil {
		return err
	}
	if asJSON {
		return printJSON(out, map[string]string{"device_id": deviceID, "group_id": res.GroupID})
	}
	_, err := fmt.Fprintf(out, "Device %s is now in %s.\n", deviceID, g.Name)
	return err
}
