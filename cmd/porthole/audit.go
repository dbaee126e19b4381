package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"porthole/broker/audit"
)

// cmdAuditVerify checks the broker's hash chain (GET /api/audit/verify), or
// with --file a JSON Lines export, offline: its records, its chain when it
// is unfiltered, and its signed trailer, against the broker's audit public
// key (--public-key, else asked of the logged-in broker). A broken chain,
// a truncated or an unsigned export is exit code 1 and says which.
func cmdAuditVerify(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit verify")
	file := fs.String("file", "", "verify this JSON Lines export instead of the broker's log")
	publicKey := fs.String("public-key", "", "with --file: the broker's audit public key (base64, or a file holding it); default: ask the logged-in broker")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file != "" {
		pub, err := exportKey(ctx, *publicKey)
		if err != nil {
			return err
		}
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		res, err := audit.VerifyExport(f, pub)
		if err != nil {
			return fmt.Errorf("audit log export is NOT intact: %w (%d records verified before it)", err, res.Records)
		}
		what := "the whole log, chained from record 1"
		if res.Filtered {
			what = "a filtered export: each record and the selection are signed, not a chain"
		}
		_, err = fmt.Fprintf(out, "audit log export intact: %d records verified (%s), signed by key %s\n", res.Records, what,
			audit.Fingerprint(pub))
		return err
	}
	var res struct {
		OK      bool   `json:"ok"`
		Checked int64  `json:"checked"`
		Broken  int64  `json:"broken_seq"`
		Error   string `json:"error"`
	}
	if err := authed(ctx, "GET", "/api/audit/verify", nil, &res); err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("audit log is NOT intact: first bad record %d: %s (%d records verified before it)", res.Broken, res.Error, res.Checked)
	}
	_, err := fmt.Fprintf(out, "audit log intact: %d records verified\n", res.Checked)
	return err
}

// exportKey is the public key an export is checked with: the one given,
// else the logged-in broker's.
func exportKey(ctx context.Context, given string) (ed25519.PublicKey, error) {
	if given != "" {
		return audit.ParsePublicKey(given)
	}
	var k struct {
		PublicKey string `json:"public_key"`
	}
	if err := authed(ctx, "GET", "/api/audit/key", nil, &k); err != nil {
		return nil, fmt.Errorf("need the broker's audit public key to check the signature: give --public-key, or log in (%w)", err)
	}
	return audit.ParsePublicKey(k.PublicKey)
}

// cmdAuditExport streams the log (filtered) as CSV or JSON Lines to stdout
// or a file.
func cmdAuditExport(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit export")
	format := fs.String("format", "jsonl", "csv or jsonl")
	output := fs.String("o", "", "write to this file instead of stdout")
	q := url.Values{}
	for _, name := range []string{"since", "until", "actor", "action", "device", "target", "after", "before"} {
		fs.Func(name, "filter: "+name, func(v string) error { q.Set(name, v); return nil })
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	q.Set("format", *format)
	c, err := loadCreds()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(c.Broker, "/")+"/api/audit/export?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	res, err := (&http.Client{Timeout: 30 * time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach broker %s: %w", c.Broker, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&e)
		switch res.StatusCode {
		case http.StatusUnauthorized:
			return &exitError{3, fmt.Errorf("%s (run 'porthole login')", e.Error)}
		case http.StatusForbidden:
			return &exitError{4, errors.New(e.Error)}
		}
		return fmt.Errorf("export: %s %s", res.Status, e.Error)
	}
	w := out
	if *output != "" {
		f, err := os.OpenFile(*output, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	_, err = io.Copy(w, res.Body)
	return err
}
