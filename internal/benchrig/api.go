package benchrig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"time"
)

// apiClient talks to the broker's HTTP API with a cookie session, as the
// portal does (no Origin header: the broker treats it as a non-browser client).
type apiClient struct {
	base string
	http *http.Client
}

func newAPIClient(base string) *apiClient {
	jar, _ := cookiejar.New(nil) // never fails with nil options
	return &apiClient{base: base, http: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

// do sends body as JSON and decodes a 2xx answer into out (if not nil). Any
// other status is an ErrAPI error carrying the status and the body.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%w: %s %s: %w", ErrAPI, method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrAPI, method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrAPI, method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s %s: %s: %s", ErrAPI, method, path, res.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%w: %s %s: decode %q: %w", ErrAPI, method, path, data, err)
		}
	}
	return nil
}

func (c *apiClient) login(ctx context.Context, user, password string) error {
	return c.do(ctx, "POST", "/api/login", map[string]string{"username": user, "password": password}, nil)
}

// enrollToken creates a single-use enrollment token valid for an hour.
func (c *apiClient) enrollToken(ctx context.Context) (string, error) {
	var tok struct {
		Token string `json:"token"`
	}
	err := c.do(ctx, "POST", "/api/enroll-tokens", map[string]any{"max_uses": 1, "expires_in_seconds": 3600, "note": "bench"}, &tok)
	if err == nil && tok.Token == "" {
		err = fmt.Errorf("%w: enrollment token missing from the answer", ErrAPI)
	}
	return tok.Token, err
}

// setGlobal sets a broker setting for every device.
func (c *apiClient) setGlobal(ctx context.Context, key, value string) error {
	return c.do(ctx, "PUT", "/api/settings/"+key, map[string]string{"scope": "global", "value": value}, nil)
}

// device is the part of GET /api/devices/{id} the rig reads.
type device struct {
	ID     string `json:"id"`
	Online bool   `json:"online"`
}

func (c *apiClient) device(ctx context.Context, id string) (device, error) {
	var d device
	err := c.do(ctx, "GET", "/api/devices/"+id, nil, &d)
	return d, err
}

// session is the part of GET /api/sessions/{id} the rig reads.
type session struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	EndReason string `json:"end_reason"`
}

// startSession asks for a remote-support session on display 0 of the device.
func (c *apiClient) startSession(ctx context.Context, deviceID string) (session, error) {
	var s session
	err := c.do(ctx, "POST", "/api/sessions", map[string]any{"device_id": deviceID, "view_only": false, "display": 0}, &s)
	if err == nil && s.ID == "" {
		err = fmt.Errorf("%w: session id missing from the answer", ErrAPI)
	}
	return s, err
}

func (c *apiClient) session(ctx context.Context, id string) (session, error) {
	var s session
	err := c.do(ctx, "GET", "/api/sessions/"+id, nil, &s)
	return s, err
}

func (c *apiClient) endSession(ctx context.Context, id string) error {
	return c.do(ctx, "POST", "/api/sessions/"+id+"/end", nil, nil)
}
