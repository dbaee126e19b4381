package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"porthole/internal/wire"
)

// cmdCodeIssue issues a temporary admin code for a device and prints it
// once (the broker keeps no copy).
func cmdCodeIssue(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("code issue")
	dev := fs.String("device", "", "device id (see porthole devices)")
	userName := fs.String("user", "", "local user who may use the code (empty: any user)")
	dur := fs.Duration("for", 30*time.Minute, "how long the user is administrator (multiple of 5m)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dev == "" {
		return errNoDevice
	}
	if *dur%time.Minute != 0 {
		return &exitError{2, fmt.Errorf("--for %s: whole minutes, a multiple of 5", *dur)}
	}
	req := wire.ElevationCodeRequest{User: *userName, Minutes: int(*dur / time.Minute)}
	if err := req.Validate(); err != nil {
		return &exitError{2, err}
	}
	var res wire.ElevationCode
	if err := authed(ctx, "POST", "/api/devices/"+url.PathEscape(*dev)+"/elevation-codes", req, &res); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	who := "any user"
	if res.User != "" {
		who = res.User
	}
	fmt.Fprintf(out, "Temporary admin code for %s on device %s, %d minutes (shown once; enter it before %s):\n\n    %s\n\nOn the endpoint the user runs:  porthole-agent elevate\n",
		who, res.DeviceID, res.Minutes, res.ValidUntil.Local().Format(time.RFC1123), res.Code)
	return nil
}

// elevationSession is a row of GET /api/devices/{id}/elevations.
type elevationSession struct {
	SessionID string    `json:"session_id"`
	User      string    `json:"user"`
	GrantedAt time.Time `json:"granted_at"`
	Until     time.Time `json:"until"`
	EndedAt   time.Time `json:"ended_at"`
	EndReason string    `json:"end_reason"`
	Processes []struct {
		PID       int       `json:"pid"`
		PPID      int       `json:"ppid"`
		Exe       string    `json:"exe"`
		Args      []string  `json:"args"`
		StartedAt time.Time `json:"started_at"`
		SeenAt    time.Time `json:"seen_at"`
		ExitedAt  time.Time `json:"exited_at"`
	} `json:"processes"`
}

// cmdElevationsList prints a device's elevation sessions and what ran
// elevated in each.
func cmdElevationsList(ctx context.Context, args []string, out io.Writer) error {
	dev, asJSON, err := parseDeviceList("elevations list", args)
	if err != nil {
		return err
	}
	ss, done, err := fetch[elevationSession](ctx, out, asJSON, "/api/devices/"+url.PathEscape(dev)+"/elevations")
	if done || err != nil {
		return err
	}
	if len(ss) == 0 {
		fmt.Fprintln(out, "No elevations on this device.")
		return nil
	}
	const ts = "2006-01-02 15:04:05"
	for _, s := range ss {
		end := "running until " + s.Until.Local().Format(ts)
		if !s.EndedAt.IsZero() {
			end = s.EndReason + " " + s.EndedAt.Local().Format(ts)
		}
		fmt.Fprintf(out, "Session %s: %s, granted %s, %s\n", s.SessionID, s.User, s.GrantedAt.Local().Format(ts), end)
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SEEN\tPID\tPPID\tEXITED\tCOMMAND")
		for _, p := range s.Processes {
			exited := "-"
			if !p.ExitedAt.IsZero() {
				exited = p.ExitedAt.Local().Format(time.TimeOnly)
			}
			cmd := strings.Join(p.Args, " ")
			if cmd == "" {
				cmd = p.Exe
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\n", p.SeenAt.Local().Format(ts), p.PID, p.PPID, exited, cmd)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
