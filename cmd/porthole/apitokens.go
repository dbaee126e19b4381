package main

import (
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

const tokenAPIUsage = "usage: porthole token api create --scope S[,S...] [--expires 24h] [--note T] | list | revoke ID   (each takes --json)"

// apiToken is an API or CLI token as GET /api/api-tokens lists it.
type apiToken struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Note       string     `json:"note"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	LastUsedIP string     `json:"last_used_ip"`
	Revoked    bool       `json:"revoked"`
	Current    bool       `json:"current"`
	Token      string     `json:"token,omitempty"`
}

// cmdTokenAPI manages the caller's API tokens: porthole token api create|list|revoke.
func cmdTokenAPI(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New(tokenAPIUsage)}
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "create":
		var scopes listFlag
		var expires *time.Duration
		var note *string
		_, asJSON, err := verbArgs("token api create", tokenAPIUsage, args, 0, func(fs *flag.FlagSet) {
			fs.Var(&scopes, "scope", "scopes, comma-separated or repeated (e.g. devices:read,sessions:*; see the README)")
			expires = fs.Duration("expires", 24*time.Hour, "how long the token works (at most the broker's api_tokens.max_days)")
			note = fs.String("note", "", "what the token is for")
		})
		if err != nil {
			return err
		}
		req := wire.APITokenRequest{Scopes: scopes, ExpiresInSeconds: int64(expires.Seconds()), Note: *note}
		if err := req.Validate(); err != nil {
			return &exitError{2, err}
		}
		var t apiToken
		if err := authed(ctx, "POST", "/api/api-tokens", req, &t); err != nil {
			return err
		}
		if asJSON {
			return printJSON(out, t)
		}
		_, err = fmt.Fprintf(out, "API token %s (%s; valid until %s). Shown once; send it as \"Authorization: Bearer TOKEN\":\n\n    %s\n\n",
			t.ID, strings.Join(t.Scopes, " "), t.ExpiresAt.Local().Format(time.RFC1123), t.Token)
		return err
	case "list":
		_, asJSON, err := verbArgs("token api list", tokenAPIUsage, args, 0, nil)
		if err != nil {
			return err
		}
		return list(ctx, out, asJSON, "/api/api-tokens", []string{"ID", "KIND", "SCOPES", "NOTE", "CREATED", "EXPIRES", "LAST USED", "STATUS"},
			func(t apiToken) []string {
				scopes, used, status := strings.Join(t.Scopes, ","), "never", "active"
				if t.Kind == "cli" {
					scopes = "(all of yours: porthole login)"
				}
				if t.LastUsedAt != nil {
					used = when(*t.LastUsedAt) + " from " + t.LastUsedIP
				}
				switch {
				case t.Revoked:
					status = "revoked"
				case !time.Now().Before(t.ExpiresAt):
					status = "expired"
				case t.Current:
					status = "active (this one)"
				}
				return []string{t.ID, t.Kind, scopes, t.Note, when(t.CreatedAt), when(t.ExpiresAt), used, status}
			})
	case "revoke":
		id, rest, ok := idArg(args)
		if !ok {
			return &exitError{2, errors.New(tokenAPIUsage)}
		}
		_, asJSON, err := verbArgs("token api revoke", tokenAPIUsage, rest, 0, nil)
		if err != nil {
			return err
		}
		var t apiToken
		if err := authed(ctx, "POST", "/api/api-tokens/"+url.PathEscape(id)+"/revoke", nil, &t); err != nil {
			return err
		}
		if asJSON {
			return printJSON(out, t)
		}
		_, err = fmt.Fprintf(out, "Revoked API token %s.\n", t.ID)
		return err
	}
	return &exitError{2, fmt.Errorf("unknown token api command %q\n%s", verb, tokenAPIUsage)}
}
