package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"porthole/internal/wire"
)

const breakglassUsage = `usage:
  porthole breakglass create --device ID (--for 1h | --until 2026-01-02T15:04:05Z) [--use-within 10m] [--json]
  porthole breakglass list --device ID [--json]
  porthole breakglass revoke GRANT_ID`

// grant is a break-glass account as the API shows it.
type grant struct {
	ID        string    `json:"id"`
	DeviceID  string    `json:"device_id"`
	Requester string    `json:"requester"`
	Username  string    `json:"username"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UseBy     time.Time `json:"use_by"`
	Password  string    `json:"password,omitempty"`
}

func cmdBreakGlass(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New(breakglassUsage)}
	}
	switch args[0] {
	case "create":
		return cmdBreakGlassCreate(ctx, args[1:], out)
	case "list":
		return cmdBreakGlassList(ctx, args[1:], out)
	case "revoke":
		if len(args) != 2 {
			return &exitError{2, errors.New(breakglassUsage)}
		}
		var g grant
		if err := authed(ctx, "POST", "/api/breakglass/"+url.PathEscape(args[1])+"/revoke", nil, &g); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "Revoked %s: logged off and deleted on the device.\n", g.Username)
		return err
	}
	return &exitError{2, errors.New(breakglassUsage)}
}

func cmdBreakGlassCreate(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("breakglass create")
	device := fs.String("device", "", "device id (porthole devices)")
	dur := fs.Duration("for", 0, "lifetime, e.g. 30m or 1h (bounded by the setting breakglass.max_minutes)")
	until := fs.String("until", "", "expiry time, RFC 3339 (instead of --for)")
	useWithin := fs.Duration("use-within", 0, "remove the account if nobody logs in this soon (at most the setting breakglass.use_within_minutes)")
	asJSON := fs.Bool("json", false, "print JSON (includes the password)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var req wire.BreakGlassRequest
	if *until != "" {
		t, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			return &exitError{2, fmt.Errorf("--until: %w", err)}
		}
		req.ExpiresAt = t
	}
	req.DurationSeconds = int(dur.Seconds())
	req.UseWithinMinutes = int(useWithin.Minutes())
	if *device == "" {
		return &exitError{2, errors.New("--device is required\n" + breakglassUsage)}
	}
	if err := req.Validate(); err != nil {
		return &exitError{2, fmt.Errorf("give --for or --until: %w", err)}
	}
	var g grant
	if err := authed(ctx, "POST", "/api/devices/"+url.PathEscape(*device)+"/breakglass", req, &g); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(out).Encode(g)
	}
	fmt.Fprintf(out, "Break-glass administrator on %s (shown once; the broker keeps no copy of the password):\n\n    username: %s\n    password: %s\n\nExpires %s",
		*device, g.Username, g.Password, g.ExpiresAt.Local().Format(time.RFC1123))
	if !g.UseBy.IsZero() {
		fmt.Fprintf(out, "; removed unused at %s", g.UseBy.Local().Format(time.RFC1123))
	}
	_, err := fmt.Fprintf(out, ".\nRevoke early with: porthole breakglass revoke %s\n", g.ID)
	return err
}

func cmdBreakGlassList(ctx context.Context, args []string, out io.Writer) error {
	device, asJSON, err := parseDeviceList("breakglass list", args)
	if err != nil {
		return err
	}
	return list(ctx, out, asJSON, "/api/devices/"+url.PathEscape(device)+"/breakglass",
		[]string{"ID", "USERNAME", "STATUS", "CREATED BY", "CREATED", "EXPIRES"}, func(g grant) []string {
			return []string{g.ID, g.Username, g.Status, g.Requester, when(g.CreatedAt), when(g.ExpiresAt)}
		})
}
