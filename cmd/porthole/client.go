package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// credentials are what "porthole login" stores (file mode 0600).
type credentials struct {
	Broker string `json:"broker"`
	Token  string `json:"token"`
	User   string `json:"user"`
}

// credPath honours PORTHOLE_CONFIG for tests and several brokers.
func credPath() (string, error) {
	if p := os.Getenv("PORTHOLE_CONFIG"); p != "" {
		return p, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "porthole", "cli.json"), nil
}

func loadCreds() (credentials, error) {
	var c credentials
	p, err := credPath()
	if err != nil {
		return c, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return c, &exitError{3, errors.New("not logged in: run 'porthole login --broker URL --user NAME'")}
	}
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(b, &c)
}

func saveCreds(c credentials) error {
	p, err := credPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	return os.WriteFile(p, b, 0o600)
}

// call sends a JSON request and decodes the answer into out. Broker errors
// become clear messages and exit codes.
func call(ctx context.Context, broker, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(broker, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach broker %s: %w", broker, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		var e struct{ Error string }
		_ = json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = res.Status
		}
		switch res.StatusCode {
		case http.StatusUnauthorized:
			return &exitError{3, fmt.Errorf("%s (run 'porthole login')", e.Error)}
		case http.StatusForbidden:
			return &exitError{4, errors.New(e.Error)}
		}
		return errors.New(e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("unexpected broker answer: %w", err)
		}
	}
	return nil
}

// authed calls the broker with the stored credentials.
func authed(ctx context.Context, method, path string, body, out any) error {
	c, err := loadCreds()
	if err != nil {
		return err
	}
	return call(ctx, c.Broker, c.Token, method, path, body, out)
}
