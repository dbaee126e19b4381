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
	"text/tabwriter"
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

func cmdLogin(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	fs := newFlags("login")
	broker := fs.String("broker", "", "broker URL")
	user := fs.String("user", "", "portal username")
	stdin := fs.Bool("password-stdin", false, "read the password (and then the authentication code, if asked) from standard input")
	code := fs.String("code", "", "authenticator or recovery code, when the account has two-factor authentication")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *broker == "" || *user == "" {
		return &exitError{2, errors.New("--broker and --user are required")}
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
	var raw json.RawMessage
	if err := authed(ctx, "GET", "/api/devices", nil, &raw); err != nil {
		return err
	}
	if *asJSON {
		_, err := fmt.Fprintln(out, string(raw))
		return err
	}
	var ds []device
	if err := json.Unmarshal(raw, &ds); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOSTNAME\tSTATUS\tOS\tUSER\tLAST SEEN\tAGENT")
	for _, d := range ds {
		status := "offline"
		switch {
		case d.Revoked:
			status = "revoked"
		case d.Online:
			status = "online"
		}
		seen := "never"
		if !d.LastSeen.IsZero() {
			seen = d.LastSeen.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Hostname, status, d.OS, d.User, seen, d.AgentVersion)
	}
	return tw.Flush()
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
		return json.NewEncoder(out).Encode(res)
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
	var raw json.RawMessage
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	if *action != "" {
		q.Set("action", *action)
	}
	if err := authed(ctx, "GET", "/api/audit?"+q.Encode(), nil, &raw); err != nil {
		return err
	}
	if *asJSON {
		_, err := fmt.Fprintln(out, string(raw))
		return err
	}
	var recs []struct {
		Seq     int64           `json:"seq"`
		Time    time.Time       `json:"time"`
		Actor   string          `json:"actor"`
		Action  string          `json:"action"`
		Target  string          `json:"target"`
		Details json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal(raw, &recs); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tTARGET\tDETAILS")
	for _, r := range recs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Local().Format("2006-01-02 15:04:05"), r.Actor, r.Action, r.Target, r.Details)
	}
	return tw.Flush()
}
