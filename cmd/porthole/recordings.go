package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"
)

func cmdRecordings(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return cmdRecordingsVerify(ctx, args[1:], out)
	}
	if len(args) > 0 && args[0] == "list" {
		args = args[1:]
	}
	fs := newFlags("recordings")
	device := fs.String("device", "", "only this device id")
	user := fs.String("user", "", "only sessions of this portal user")
	since := fs.String("since", "", "started at or after (RFC 3339 or YYYY-MM-DD)")
	until := fs.String("until", "", "started before (RFC 3339, or YYYY-MM-DD inclusive)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"device": *device, "user": *user, "since": *since, "until": *until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	type recording struct {
		ID         string    `json:"id"`
		Hostname   string    `json:"hostname"`
		Requester  string    `json:"requester"`
		State      string    `json:"state"`
		StartedAt  time.Time `json:"started_at"`
		DurationMS int64     `json:"duration_ms"`
		Size       int64     `json:"size"`
	}
	return list(ctx, out, *asJSON, "/api/recordings?"+q.Encode(), []string{"ID", "STARTED", "DEVICE", "USER", "STATE", "DURATION", "SIZE"},
		func(r recording) []string {
			return []string{r.ID, when(r.StartedAt), r.Hostname, r.Requester, r.State,
				(time.Duration(r.DurationMS) * time.Millisecond).Round(time.Second).String(), strconv.FormatInt(r.Size, 10)}
		})
}

// cmdRecordingsVerify checks every recording's files (or one's, with --id)
// against the size and SHA-256 in its audit entry; any mismatch is exit 1.
func cmdRecordingsVerify(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("recordings verify")
	id := fs.String("id", "", "verify only this recording")
	if err := parse(fs, args); err != nil {
		return err
	}
	path := "/api/recordings/verify"
	if *id != "" {
		path += "?" + url.Values{"id": {*id}}.Encode()
	}
	var checks []struct {
		ID    string `json:"id"`
		State string `json:"state"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := authed(ctx, "GET", path, nil, &checks); err != nil {
		return err
	}
	bad := 0
	for _, c := range checks {
		if c.OK {
			fmt.Fprintf(out, "ok      %s (%s)\n", c.ID, c.State)
			continue
		}
		bad++
		fmt.Fprintf(out, "FAILED  %s (%s): %s\n", c.ID, c.State, c.Error)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d recordings do NOT match their audit entries", bad, len(checks))
	}
	_, err := fmt.Fprintf(out, "%d recordings match their audit entries\n", len(checks))
	return err
}
