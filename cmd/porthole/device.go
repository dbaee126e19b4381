package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"porthole/internal/wire"
)

const deviceUsage = "usage: porthole device rotate-key DEVICE_ID [--wait 10s] [--json]"

// cmdDevice acts on one device: porthole device rotate-key ID.
func cmdDevice(ctx context.Context, args []string, out io.Writer) error {
	if len(args) < 2 || args[0] != "rotate-key" || strings.HasPrefix(args[1], "-") {
		return &exitError{2, errors.New(deviceUsage)}
	}
	id := args[1]
	fs := newFlags("device rotate-key")
	wait := fs.Duration("wait", 10*time.Second, "how long to wait for the agent to store its new key (0: do not wait)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[2:]); err != nil {
		return err
	}
	if fs.NArg() != 0 || *wait < 0 || *wait > wire.MaxRotateWait*time.Second {
		return &exitError{2, fmt.Errorf("%s (--wait at most %ds)", deviceUsage, wire.MaxRotateWait)}
	}
	var rot struct {
		DeviceID  string    `json:"device_id"`
		ID        string    `json:"rotation_id"`
		State     string    `json:"state"`
		RotatedAt time.Time `json:"rotated_at"`
	}
	body := wire.RotateKeyRequest{WaitSeconds: int(wait.Round(time.Second) / time.Second)}
	if err := authed(ctx, "POST", "/api/devices/"+url.PathEscape(id)+"/rotate-key", body, &rot); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, rot)
	}
	if rot.State == "done" {
		_, err := fmt.Fprintf(out, "Device %s has a new elevation key (rotation %s): codes issued before it no longer work.\n", id, rot.ID)
		return err
	}
	_, err := fmt.Fprintf(out, "Key rotation %s for device %s is pending: the agent picks up its new key when it is online; "+
		"until then codes are issued with the old key.\n", rot.ID, id)
	return err
}
