package main

import (
	"bufio"
	"context"
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
// with --file an unfiltered JSON Lines export, offline. A broken chain is
// exit code 1 and names the first bad record.
func cmdAuditVerify(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit verify")
	file := fs.String("file", "", "verify this JSON Lines export instead of the broker's log")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := verifyJSONL(f)
		if err != nil {
			return fmt.Errorf("audit log export is NOT intact: %w (%d records verified before it)", err, n)
		}
		_, err = fmt.Fprintf(out, "audit log export intact: %d records verified\n", n)
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

// verifyJSONL checks an export line by line in constant memory.
func verifyJSONL(r io.Reader) (int64, error) {
	var v audit.Verifier
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var rec audit.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return v.Checked(), fmt.Errorf("line after record %d: %w", v.Checked(), err)
		}
		if err := v.Add(rec.Stored()); err != nil {
			return v.Checked(), err
		}
	}
	return v.Checked(), sc.Err()
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
