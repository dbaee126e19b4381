package sso

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"porthole/broker/auth"
	"porthole/internal/clock/clocktest"
	"porthole/internal/oidctest"
)

// tokenRewriter lets a test change the token endpoint's answer on its way
// to the broker (a tampered or substituted ID token).
var base64URL = base64.RawURLEncoding

type tokenRewriter struct {
	mu      sync.Mutex
	rewrite func(idToken string) string // nil: untouched
	last    string                      // the last ID token seen
}

func (tr *tokenRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !strings.HasSuffix(r.URL.Path, "/oauth/token") || res.StatusCode != 200 {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	tr.mu.Lock()
	tok, _ := m["id_token"].(string)
	tr.last = tok
	if tr.rewrite != nil {
		m["id_token"] = tr.rewrite(tok)
	}
	tr.mu.Unlock()
	body, _ = json.Marshal(m)
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Del("Content-Length")
	return res, nil
}

type rig struct {
	op  *oidctest.Server
	svc *Service
	alt *Service // the same OP, another client ("other")
	tr  *tokenRewriter
	clk *clocktest.Fake
}

const redirect = "http://127.0.0.1:1/api/sso/callback" // never called: the test takes the code from the redirect

func newRig(t *testing.T) *rig {
	t.Helper()
	op := oidctest.Start(t,
		oidctest.Client{ID: "porthole", Secret: "s3cret", RedirectURIs: []string{redirect}},
		oidctest.Client{ID: "other", Secret: "other-secret", RedirectURIs: []string{redirect}})
	op.AddUser(oidctest.User{Subject: "sub-ann", Username: "Ann", Password: "pw-ann", Groups: []string{"porthole-admins"}})
	op.AddUser(oidctest.User{Subject: "sub-ben", Username: "ben", Password: "pw-ben", Groups: []string{"helpdesk"}})
	tr := &tokenRewriter{}
	clk := clocktest.New(time.Now())
	mk := func(client, secretEnv string) *Service {
		cfg := ProviderConfig{ID: "test", Name: "Test IdP", Issuer: op.Issuer, ClientID: client, ClientSecretEnv: secretEnv,
			Groups: []GroupMapping{{Group: "porthole-admins", Role: "admin"}, {Group: "helpdesk", Role: "technician"}}}
		if err := cfg.check(); err != nil {
			t.Fatal(err)
		}
		s, err := New(ServiceConfig{Providers: []ProviderConfig{cfg}, RedirectURL: redirect, Clock: clk,
			HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second},
			Getenv: func(k string) (string, bool) {
				v, ok := map[string]string{"PORTHOLE_TEST_SECRET": "s3cret", "OTHER_SECRET": "other-secret"}[k]
				return v, ok
			}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return &rig{op: op, svc: mk("porthole", "PORTHOLE_TEST_SECRET"), alt: mk("other", "OTHER_SECRET"), tr: tr, clk: clk}
}

// signIn begins a sign-in at svc and signs in at the OP as user; it
// returns the browser's flow cookie and the callback's parameters.
func (r *rig) signIn(t *testing.T, svc *Service, purpose Purpose, user, pw string) (string, Callback) {
	t.Helper()
	authURL, cookie, err := svc.Begin(context.Background(), "test", purpose, "", "")
	if err != nil {
		t.Fatal(err)
	}
	q, err := r.op.Authorize(context.Background(), authURL, user, pw)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := ParseCallback(q)
	if err != nil {
		t.Fatal(err)
	}
	return cookie, cb
}

// TestSignInAgainstRealOP: the code flow with PKCE against zitadel's OP
// gives a verified identity with the configured claims.
func TestSignInAgainstRealOP(t *testing.T) {
	r := newRig(t)
	cookie, cb := r.signIn(t, r.svc, PurposeLogin, "Ann", "pw-ann")
	id, err := r.svc.Finish(context.Background(), cookie, cb)
	if err != nil {
		t.Fatal(err)
	}
	if id.Issuer != r.op.Issuer || id.Subject != "sub-ann" || id.Username != "Ann" || len(id.Groups) != 1 || id.Groups[0] != "porthole-admins" ||
		id.AuthTime.IsZero() || id.Provider != "test" || id.Purpose != PurposeLogin {
		t.Fatalf("identity %+v", id)
	}
}

// TestCallbackRefusals: each way a callback can be wrong is refused, with
// tokens and codes from the real OP.
func TestCallbackRefusals(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	t.Run("replayed state", func(t *testing.T) {
		cookie, cb := r.signIn(t, r.svc, PurposeLogin, "ben", "pw-ben")
		if _, err := r.svc.Finish(ctx, cookie, cb); err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.Finish(ctx, cookie, cb); !errors.Is(err, ErrNoFlow) {
			t.Fatalf("replay: %v", err)
		}
	})
	t.Run("another browser's state (CSRF)", func(t *testing.T) {
		_, cb := r.signIn(t, r.svc, PurposeLogin, "ben", "pw-ben") // the attacker's sign-in
		_, victim, err := r.svc.Begin(ctx, "test", PurposeLogin, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.Finish(ctx, victim, cb); !errors.Is(err, ErrState) {
			t.Fatalf("foreign state: %v", err)
		}
		if _, err := r.svc.Finish(ctx, "", cb); !errors.Is(err, ErrNoFlow) {
			t.Fatalf("no cookie: %v", err)
		}
	})
	t.Run("missing PKCE verifier", func(t *testing.T) {
		cookie, cb := r.signIn(t, r.svc, PurposeLogin, "ben", "pw-ben")
		r.svc.mu.Lock()
		r.svc.flows[auth.TokenHash(cookie)].verifier = "" // the code is redeemed without the verifier
		r.svc.mu.Unlock()
		_, err := r.svc.Finish(ctx, cookie, cb)
		if !errors.Is(err, ErrIdP) || !strings.Contains(err.Error(), "invalid_request") {
			t.Fatalf("without verifier: %v", err)
		}
	})
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		cookie, cb := r.signIn(t, r.svc, PurposeLogin, "ben", "pw-ben")
		r.svc.mu.Lock()
		r.svc.flows[auth.TokenHash(cookie)].verifier = strings.Repeat("x", 64)
		r.svc.mu.Unlock()
		if _, err := r.svc.Finish(ctx, cookie, cb); !errors.Is(err, ErrIdP) {
			t.Fatalf("wrong verifier: %v", err)
		}
	})
	t.Run("tampered ID token", func(t *testing.T) {
		cookie, cb := r.signIn(t, r.svc, PurposeLogin, "ben", "pw-ben")
		r.tr.mu.Lock()
		r.tr.rewrite = func(tok string) string {
			parts := strings.Split(tok, ".")
			// Claim to be in porthole-admins: the payload changes, the signature does not.
			var claims map[string]any
			b, _ := base64URL.DecodeString(parts[1])
			_ = json.Unmarshal(b, &claims)
			claims["groups"] = []string{"porthole-admins"}
			b, _ = json.Marshal(claims)
			parts[1] = base64URL.EncodeToString(b)
			return strings.Join(parts, ".")
		}
		r.tr.mu.Unlock()
		defer func() { r.tr.mu.Lock(); r.tr.rewrite = nil; r.tr.mu.Unlock() }()
		_, err := r.svc.Finish(ctx, cookie, cb)
		if !errors.Is(err, ErrToken) || !strings.Contains(err.Error(), "signature") {
			t.Fatalf("tampered: %v", err)
		}
	})
	t.Run("wrong audience", func(t *testing.T) {
		// A genuine ID token the OP issued to the other client ...
		cookie, cb := r.signIn(t, r.alt, PurposeLogin, "ben", "pw-ben")
		if _, err := r.alt.Finish(ctx, cookie, cb); err != nil {
			t.Fatal(err)
		}
		r.tr.mu.Lock()
		foreign := r.tr.last
		r.tr.rewrite = func(string) string { return foreign }
		r.tr.mu.Unlock()
		defer func() { r.tr.mu.Lock(); r.tr.rewrite = nil; r.tr.mu.Unlock() }()
		// ... handed to Porthole's callback.
		cookie, cb = r.signIn(t, r.svc, PurposeLogin, "ben", "pw-ben")
		_, err := r.svc.Finish(ctx, cookie, cb)
		if !errors.Is(err, ErrToken) || !strings.Contains(err.Error(), "audience") {
			t.Fatalf("foreign audience: %v", err)
		}
	})
	t.Run("expired flow", func(t *testing.T) {
		cookie, cb := r.signIn(t, r.svc, PurposeLogin, "ben", "pw-ben")
		r.clk.Advance(FlowTTL)
		if _, err := r.svc.Finish(ctx, cookie, cb); !errors.Is(err, ErrNoFlow) {
			t.Fatalf("expired: %v", err)
		}
	})
	t.Run("step-up needs a fresh sign-in", func(t *testing.T) {
		// The broker's clock is an hour ahead: the OP's auth_time predates the step-up.
		r.clk.Advance(time.Hour)
		defer r.clk.Advance(-time.Hour)
		cookie, cb := r.signIn(t, r.svc, PurposeStepUp, "ben", "pw-ben")
		if _, err := r.svc.Finish(ctx, cookie, cb); !errors.Is(err, ErrToken) || !strings.Contains(err.Error(), "auth_time") {
			t.Fatalf("stale step-up: %v", err)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		_, cookie, _ := r.svc.Begin(ctx, "test", PurposeLogin, "", "")
		r.svc.mu.Lock()
		state := r.svc.flows[auth.TokenHash(cookie)].state
		r.svc.mu.Unlock()
		if _, err := r.svc.Finish(ctx, cookie, Callback{State: state, Error: "access_denied"}); !errors.Is(err, ErrIdP) {
			t.Fatalf("access_denied: %v", err)
		}
	})
}
