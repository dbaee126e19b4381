package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
)

const userUnlockUsage = "usage: porthole user unlock NAME [--json]"

// cmdUserUnlock lifts an account's lockout (admins): the failures counted
// against it from anywhere are forgotten; audited as user.unlocked.
func cmdUserUnlock(ctx context.Context, args []string, out io.Writer) error {
	name, rest, ok := idArg(args)
	if !ok {
		return &exitError{2, errors.New(userUnlockUsage)}
	}
	fs := newFlags("user unlock")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, rest); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &exitError{2, errors.New(userUnlockUsage)}
	}
	u, err := findUser(ctx, name)
	if err != nil {
		return err
	}
	id := u.ID
	var res struct {
		Username  string `json:"username"`
		WasLocked bool   `json:"was_locked"`
		Failures  int    `json:"failures"`
	}
	if err := authed(ctx, "POST", "/api/users/"+url.PathEscape(id)+"/unlock", nil, &res); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, res)
	}
	state := "was not locked"
	if res.WasLocked {
		state = "was locked"
	}
	fmt.Fprintf(out, "Unlocked %s (%s; %d failed attempt(s) forgotten).\n", res.Username, state, res.Failures)
	return nil
}
