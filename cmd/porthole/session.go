package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"
)

// session is the part of a broker session snapshot the CLI shows.
type session struct {
	ID        string     `json:"id"`
	DeviceID  string     `json:"device_id"`
	Hostname  string     `json:"hostname"`
	Requester string     `json:"requester"`
	State     string     `json:"state"`
	ViewOnly  bool       `json:"view_only"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	EndReason string     `json:"end_reason"`
}

func cmdSession(ctx context.Context, args []string, out io.Writer) error {
	const u = "usage: porthole session list [--device ID] [--limit N] [--json] | porthole session terminate ID [--json]"
	if len(args) == 0 {
		return &exitError{2, errors.New(u)}
	}
	switch args[0] {
	case "list":
		fs := newFlags("session list")
		dev := fs.String("device", "", "only this device's sessions")
		limit := fs.Int("limit", 50, "how many (newest first)")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		q := url.Values{"limit": {strconv.Itoa(*limit)}}
		if *dev != "" {
			q.Set("device", *dev)
		}
		return list(ctx, out, *asJSON, "/api/sessions?"+q.Encode(),
			[]string{"ID", "DEVICE", "HOST", "BY", "STATE", "MODE", "STARTED", "ENDED", "REASON"}, func(s session) []string {
				mode, ended := "control", "-"
				if s.ViewOnly {
					mode = "view-only"
				}
				if s.EndedAt != nil {
					ended = when(*s.EndedAt)
				}
				return []string{s.ID, s.DeviceID, s.Hostname, s.Requester, s.State, mode, when(s.StartedAt), ended, s.EndReason}
			})
	case "terminate":
		fs := newFlags("session terminate")
		asJSON := fs.Bool("json", false, "print JSON")
		id, rest, ok := idArg(args[1:])
		if !ok {
			return &exitError{2, errors.New("usage: porthole session terminate ID [--json]")}
		}
		if err := parse(fs, rest); err != nil {
			return err
		}
		var s session
		if err := authed(ctx, "POST", "/api/sessions/"+url.PathEscape(id)+"/end", struct{}{}, &s); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(out, s)
		}
		_, err := fmt.Fprintf(out, "Session %s on %s: %s (%s).\n", s.ID, s.Hostname, s.State, s.EndReason)
		return err
	}
	return &exitError{2, errors.New(u)}
}
