package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"porthole/internal/cli"
	"porthole/internal/wire"
)

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := cli.Parse(fs, args, ""); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{2, err}
	}
	return nil
}

// idArg takes the record id that leads args. An id is never a flag, but
// older ids may begin with "-", so "--" before the id is honoured:
// porthole task approve -- -AbC123.
func idArg(args []string) (id string, rest []string, ok bool) {
	if len(args) > 1 && args[0] == "--" {
		return args[1], args[2:], args[1] != ""
	}
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return "", nil, false
	}
	return args[0], args[1:], true
}

// errNoDevice is the usage error of a command whose --device is missing.
var errNoDevice = &exitError{2, errors.New("--device is required")}

// parseDeviceList parses the flags of a list of one device's records (name
// is the command, e.g. "breakglass list"): --device, required, and --json.
func parseDeviceList(name string, args []string) (device string, asJSON bool, err error) {
	fs := newFlags(name)
	dev := fs.String("device", "", "device id")
	js := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return "", false, err
	}
	if *dev == "" {
		return "", false, errNoDevice
	}
	return *dev, *js, nil
}

func cmdLogin(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	fs := newFlags("login")
	broker := fs.String("broker", "", "broker URL")
	user := fs.String("user", "", "portal username")
	stdin := fs.Bool("password-stdin", false, "read the password (and then the authentication code, if asked) from standard input")
	code := fs.String("code", "", "authenticator or recovery code, when the account has two-factor authentication")
	ssoID := fs.String("sso", "", "sign in at this identity provider (its id) in a browser instead of with a password")
	ssoWait := fs.Duration("sso-timeout", 5*time.Minute, "how long to wait for the browser sign-in")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *broker != "" && *ssoID != "" {
		return ssoLogin(ctx, *broker, *ssoID, *ssoWait, out)
	}
	if *broker == "" || *user == "" {
		return &exitError{2, errors.New("--broker and --user (or --sso PROVIDER) are required")}
	}
	var lines *bufio.Reader // one reader: the code may follow the password on stdin
	if in != nil {
		lines = bufio.NewReader(in)
	}
	pw, err := readSecret(in, lines, out, "Password: ", *stdin)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	var res struct {
		Token       string    `json:"token"`
		ExpiresAt   time.Time `json:"expires_at"`
		Role        string    `json:"role"`
		MFARequired bool      `json:"mfa_required"`
		Ticket      string    `json:"ticket"`
	}
	if err := call(ctx, *broker, "", "POST", "/api/cli/login", wire.LoginRequest{Username: *user, Password: pw, TokenName: "cli@" + host}, &res); err != nil {
		return err
	}
	if res.MFARequired {
		// The token is only issued after the second factor.
		c := *code
		if c == "" {
			if c, err = readLine(in, lines, out, "Authentication code: ", *stdin); err != nil {
				return fmt.Errorf("authentication code: %w", err)
			}
		}
		ticket := res.Ticket
		res.Ticket, res.MFARequired = "", false
		req := map[string]string{"ticket": ticket, "code": c, "token_name": "cli@" + host}
		if err := call(ctx, *broker, "", "POST", "/api/cli/login/mfa", req, &res); err != nil {
			return err
		}
	}
	if res.Token == "" {
		return errors.New("unexpected broker answer: no token")
	}
	if err := saveCreds(credentials{Broker: *broker, Token: res.Token, User: *user}); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	fmt.Fprintf(out, "Logged in to %s as %s (%s). Token valid until %s.\n", *broker, *user, res.Role, res.ExpiresAt.Local().Format(time.RFC1123))
	return nil
}

// readSecret reads a password without echo from a terminal, else a line.
func readSecret(in io.Reader, lines *bufio.Reader, out io.Writer, prompt string, fromStdin bool) (string, error) {
	if f, ok := in.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(out, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(out)
		return string(b), err
	}
	return readLine(in, lines, out, "", fromStdin)
}

// readLine reads one line, prompting first when in is a terminal.
func readLine(in io.Reader, lines *bufio.Reader, out io.Writer, prompt string, fromStdin bool) (string, error) {
	if f, ok := in.(*os.File); ok && !fromStdin && prompt != "" && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(out, prompt)
	}
	if lines == nil {
		return "", errors.New("nothing on standard input")
	}
	line, err := lines.ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("nothing on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

type device struct {
	ID           string    `json:"id"`
	Hostname     string    `json:"hostname"`
	OS           string    `json:"os"`
	User         string    `json:"user"`
	Online       bool      `json:"online"`
	Revoked      bool      `json:"revoked"`
	LastSeen     time.Time `json:"last_seen"`
	AgentVersion string    `json:"agent_version"`
}

func cmdDevices(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("devices")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return list(ctx, out, *asJSON, "/api/devices", []string{"ID", "HOSTNAME", "STATUS", "OS", "USER", "LAST SEEN", "AGENT"}, func(d device) []string {
		status := "offline"
		switch {
		case d.Revoked:
			status = "revoked"
		case d.Online:
			status = "online"
		}
		seen := "never"
		if !d.LastSeen.IsZero() {
			seen = when(d.LastSeen)
		}
		return []string{d.ID, d.Hostname, status, d.OS, d.User, seen, d.AgentVersion}
	})
}

func cmdTokenCreate(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("token create")
	uses := fs.Int("uses", 1, "how many agents may enroll with it")
	expires := fs.Duration("expires", 24*time.Hour, "how long it is valid")
	note := fs.String("note", "", "a note shown in the portal")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	var res struct {
		ID        string    `json:"id"`
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
		MaxUses   int       `json:"max_uses"`
	}
	req := wire.TokenRequest{MaxUses: *uses, ExpiresInSeconds: int64(expires.Seconds()), Note: *note}
	if err := req.Validate(); err != nil {
		return &exitError{2, err}
	}
	if err := authed(ctx, "POST", "/api/enroll-tokens", req, &res); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, res)
	}
	c, _ := loadCreds()
	fmt.Fprintf(out, "Enrollment token (shown once; %d use(s), valid until %s):\n\n    %s\n\nOn the endpoint run:\n\n    porthole-agent enroll --broker %s --token %s\n",
		res.MaxUses, res.ExpiresAt.Local().Format(time.RFC1123), res.Token, c.Broker, res.Token)
	return nil
}

func cmdAudit(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit")
	action := fs.String("action", "", "only this action")
	limit := fs.Int("limit", 50, "how many records (newest first)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	if *action != "" {
		q.Set("action", *action)
	}
	type record struct {
		Seq     int64           `json:"seq"`
		Time    time.Time       `json:"time"`
		Actor   string          `json:"actor"`
		Action  string          `json:"action"`
		Target  string          `json:"target"`
		Details json.RawMessage `json:"details"`
	}
	return list(ctx, out, *asJSON, "/api/audit?"+q.Encode(), []string{"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "DETAILS"}, func(r record) []string {
		return []string{strconv.FormatInt(r.Seq, 10), when(r.Time), r.Actor, r.Action, r.Target, string(r.Details)}
	})
}
