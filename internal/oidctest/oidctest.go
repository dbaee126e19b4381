// Package oidctest runs a real OpenID Provider for tests: zitadel/oidc's
// op package (discovery, authorization with PKCE, token endpoint, JWKS,
// RS256-signed ID tokens) over an in-memory store of users, groups and
// clients the test controls, with a plain HTML login page the test (or
// Chromium) fills in. Every authorization shows the login page (the OP
// keeps no session), so every sign-in is fresh and carries its auth_time.
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is an account at the OP.
type User struct {
	Subject  string
	Username string // preferred_username, and what the login page takes
	Password string
	Groups   []string
	// AMR is what the OP asserts about how the user signed in (default "pwd").
	AMR []string
}

// Client is a registered relying party.
type Client struct {
	ID, Secret   string
	RedirectURIs []string
}

// Server is a running OP.
type Server struct {
	Issuer string
	srv    *http.Server
	ln     net.Listener
	st     *storage
}

// Start runs an OP on 127.0.0.1 until the test ends.
func Start(t testing.TB, clients ...Client) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Issuer: "http://" + ln.Addr().String(), ln: ln, st: &storage{users: map[string]*User{}, clients: map[string]Client{},
		requests: map[string]*authRequest{}, codes: map[string]string{}, tokens: map[string]accessToken{},
		key: signingKey{id: "k1", key: key}}}
	for _, c := range clients {
		s.st.clients[c.ID] = c
	}
	cfg := &op.Config{CryptoKey: sha256.Sum256([]byte(t.Name())), CodeMethodS256: true, AuthMethodPost: true}
	provider, err := op.NewProvider(cfg, s.st, op.StaticIssuer(s.Issuer), op.WithAllowInsecure(),
		op.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	callback := op.AuthCallbackURL(provider)
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		_ = loginPage.Execute(w, map[string]string{"ID": r.URL.Query().Get("authRequestID")})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		id := r.FormValue("id")
		if err := s.st.login(id, r.FormValue("username"), r.FormValue("password")); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_ = loginPage.Execute(w, map[string]string{"ID": id, "Error": err.Error()})
			return
		}
		http.Redirect(w, r, callback(op.ContextWithIssuer(r.Context(), s.Issuer), id), http.StatusFound)
	})
	mux.Handle("/", provider)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
	})
	return s
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><title>Test OP sign-in</title></head><body>
<h1>Test identity provider</h1>
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.ID}}">
<label>Username <input id="op-username" name="username"></label>
<label>Password <input id="op-password" name="password" type="password"></label>
<button id="op-submit" type="submit">Sign in</button>
{{if .Error}}<p id="op-error">{{.Error}}</p>{{end}}
</form></body></html>`))

// SetClock makes the OP stamp sign-ins (auth_time) with now instead of
// the real time: a test whose broker runs on a fake clock keeps both on it.
func (s *Server) SetClock(now func() time.Time) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.now = now
}

// AddUser adds (or replaces) an account.
func (s *Server) AddUser(u User) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	c := u
	c.Groups = slices.Clone(u.Groups)
	s.st.users[u.Username] = &c
}

// SetGroups moves a user between groups (for their next sign-in).
func (s *Server) SetGroups(username string, groups ...string) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.users[username].Groups = slices.Clone(groups)
}

// SetAMR changes what the OP asserts about a user's sign-ins.
func (s *Server) SetAMR(username string, amr ...string) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.users[username].AMR = slices.Clone(amr)
}

// LoginForm answers the OP's login form for an authorization request, as
// a browser would: it returns the URL the OP redirects to next (its
// callback, which then redirects to the relying party).
func (s *Server) LoginForm(requestID, username, password string) error {
	return s.st.login(requestID, username, password)
}

// storage is the OP's in-memory store (op.Storage).
type storage struct {
	mu       sync.Mutex
	users    map[string]*User        // by username
	clients  map[string]Client       // by id
	requests map[string]*authRequest // by id
	codes    map[string]string       // code → request id
	tokens   map[string]accessToken  // by id
	key      signingKey
	now      func() time.Time // auth_time's clock (nil: real)
}

var _ op.Storage = (*storage)(nil)
var _ op.CanSetUserinfoFromRequest = (*storage)(nil)

func (st *storage) login(id, username, password string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	ar, ok := st.requests[id]
	if !ok {
		return errors.New("no such authorization request")
	}
	u, ok := st.users[username]
	if !ok || u.Password != password {
		return errors.New("wrong username or password")
	}
	at := time.Now()
	if st.now != nil {
		at = st.now()
	}
	ar.subject, ar.authTime, ar.done = u.Subject, at, true
	ar.amr = slices.Clone(u.AMR)
	if len(ar.amr) == 0 {
		ar.amr = []string{"pwd"}
	}
	return nil
}

func (st *storage) userBySubject(sub string) (*User, bool) {
	for _, u := range st.users {
		if u.Subject == sub {
			return u, true
		}
	}
	return nil, false
}

type authRequest struct {
	id       string
	req      oidc.AuthRequest
	subject  string
	authTime time.Time
	amr      []string
	done     bool
}

func (a *authRequest) GetID() string          { return a.id }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return a.amr }
func (a *authRequest) GetAudience() []string  { return []string{a.req.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.authTime }
func (a *authRequest) GetClientID() string    { return a.req.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.req.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.req.CodeChallenge, Method: a.req.CodeChallengeMethod}
}
func (a *authRequest) GetNonce() string                   { return a.req.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.req.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.req.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.req.ResponseMode }
func (a *authRequest) GetScopes() []string                { return a.req.Scopes }
func (a *authRequest) GetState() string                   { return a.req.State }
func (a *authRequest) GetSubject() string                 { return a.subject }
func (a *authRequest) Done() bool                         { return a.done }

type accessToken struct {
	subject, clientID string
	scopes            []string
	expires           time.Time
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func (st *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	ar := &authRequest{id: newID(), req: *r}
	st.requests[ar.id] = ar
	return ar, nil
}

func (st *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	ar, ok := st.requests[id]
	if !ok {
		return nil, errors.New("request not found")
	}
	return ar, nil
}

func (st *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	st.mu.Lock()
	id, ok := st.codes[code]
	st.mu.Unlock()
	if !ok {
		return nil, errors.New("code invalid or expired")
	}
	return st.AuthRequestByID(ctx, id)
}

func (st *storage) SaveAuthCode(_ context.Context, id, code string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.codes[code] = id
	return nil
}

func (st *storage) DeleteAuthRequest(_ context.Context, id string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.requests, id)
	for c, rid := range st.codes {
		if rid == id {
			delete(st.codes, c)
		}
	}
	return nil
}

func (st *storage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	id, exp := newID(), time.Now().Add(5*time.Minute)
	client := ""
	if ar, ok := r.(*authRequest); ok {
		client = ar.req.ClientID
	}
	st.tokens[id] = accessToken{subject: r.GetSubject(), clientID: client, scopes: r.GetScopes(), expires: exp}
	return id, exp, nil
}

func (st *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("refresh tokens are not supported")
}

func (st *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (st *storage) TerminateSession(context.Context, string, string) error { return nil }

func (st *storage) RevokeToken(_ context.Context, id, _, _ string) *oidc.Error {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.tokens, id)
	return nil
}

func (st *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

func (st *storage) SigningKey(context.Context) (op.SigningKey, error) { return st.key, nil }
func (st *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}
func (st *storage) KeySet(context.Context) ([]op.Key, error) { return []op.Key{publicKey{st.key}}, nil }

func (st *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.clients[id]
	if !ok {
		return nil, errors.New("client not found")
	}
	return client{c}, nil
}

func (st *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.clients[id]
	if !ok || c.Secret == "" || c.Secret != secret {
		return errors.New("invalid client credentials")
	}
	return nil
}

func (st *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest puts the user's name and groups in the ID token.
func (st *storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, r op.IDTokenRequest, _ []string) error {
	return st.userinfo(ui, r.GetSubject())
}

func (st *storage) userinfo(ui *oidc.UserInfo, sub string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	u, ok := st.userBySubject(sub)
	if !ok {
		return errors.New("user not found")
	}
	ui.Subject, ui.PreferredUsername = u.Subject, u.Username
	ui.AppendClaims("groups", slices.Clone(u.Groups))
	return nil
}

func (st *storage) SetUserinfoFromToken(_ context.Context, ui *oidc.UserInfo, _, sub, _ string) error {
	return st.userinfo(ui, sub)
}

func (st *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not supported")
}

func (st *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (st *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (st *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (st *storage) Health(context.Context) error { return nil }

// client is a confidential web client using client_secret_basic (or
// _post) and the code flow; PKCE is verified whenever a challenge was sent.
type client struct{ c Client }

func (c client) GetID() string                       { return c.c.ID }
func (c client) RedirectURIs() []string              { return c.c.RedirectURIs }
func (c client) PostLogoutRedirectURIs() []string    { return nil }
func (c client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c client) GrantTypes() []oidc.GrantType         { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c client) LoginURL(id string) string            { return "/login?authRequestID=" + id }
func (c client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c client) IDTokenLifetime() time.Duration       { return 5 * time.Minute }
func (c client) DevMode() bool                        { return true } // http:// redirect URIs on 127.0.0.1
func (c client) IsScopeAllowed(string) bool           { return false }
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) ClockSkew() time.Duration             { return 0 }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// Authorize plays the browser for one authorization: it opens authURL at
// the OP, submits the login form as username, and returns the query the
// OP redirects to the relying party with (code and state, or error),
// without calling the relying party.
func (s *Server) Authorize(ctx context.Context, authURL, username, password string) (url.Values, error) {
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := authURL
	form := false
	for range 6 {
		var res *http.Response
		var err error
		if form {
			res, err = c.PostForm(next, url.Values{"id": {lastRequestID(next)}, "username": {username}, "password": {password}})
			form = false
		} else {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
			res, err = c.Do(req)
		}
		if err != nil {
			return nil, err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
			return nil, fmt.Errorf("%s: status %d", next, res.StatusCode)
		}
		loc, err := res.Request.URL.Parse(res.Header.Get("Location"))
		if err != nil {
			return nil, err
		}
		if loc.Path == "/login" && strings.HasPrefix(loc.String(), s.Issuer) {
			form, next = true, loc.String()
			continue
		}
		if !strings.HasPrefix(loc.String(), s.Issuer) {
			return loc.Query(), nil
		}
		next = loc.String()
	}
	return nil, errors.New("too many redirects")
}

func lastRequestID(loginURL string) string {
	u, err := url.Parse(loginURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("authRequestID")
}

// FormURL is where the login form posts.
func (s *Server) FormURL() string { return s.Issuer + "/login" }
