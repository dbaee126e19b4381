package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"porthole/broker/auth"
	"porthole/broker/sso"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// CLISSO holds "porthole login --sso" sign-ins between the CLI's start and
// its token: the browser signs in through the broker's own callback (the
// only redirect URI registered at the IdP), then the broker sends it to
// the CLI's loopback listener with a one-time ticket; the CLI trades the
// ticket and the verifier of the challenge it started with (as in PKCE)
// for a token, so a ticket seen by anyone else is worthless.
type CLISSO struct {
	mu sync.Mutex
	m  map[string]*cliSignIn // by id; guarded by mu
}

type cliSignIn struct {
	provider  string
	challenge string // base64url SHA-256 of the CLI's verifier
	port      int
	tokenName string
	expires   time.Time
	ticket    string // TokenHash of the ticket, once signed in
	userID    string
}

const maxCLISignIns = 1000

func (c *CLISSO) exists(id string, now time.Time) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[id]
	return ok && now.Before(s.expires) && s.ticket == ""
}

// CLISSOStart is the CLI's start of a sign-in.
type CLISSOStart struct {
	Provider  string `json:"provider"`
	Port      int    `json:"port"`
	Challenge string `json:"challenge"`
	TokenName string `json:"token_name,omitempty"`
}

var b64url43 = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// Validate bounds the fields.
func (s *CLISSOStart) Validate() error {
	switch {
	case s.Provider == "" || len(s.Provider) > 32:
		return fmt.Errorf("%w: provider required", wire.ErrInvalid)
	case s.Port < 1024 || s.Port > 65535:
		return fmt.Errorf("%w: port must be 1024..65535 (the CLI's loopback listener)", wire.ErrInvalid)
	case !b64url43.MatchString(s.Challenge):
		return fmt.Errorf("%w: challenge must be the base64url SHA-256 of the verifier", wire.ErrInvalid)
	case len(s.TokenName) > 128:
		return fmt.Errorf("%w: token name at most 128 characters", wire.ErrInvalid)
	}
	return nil
}

// CLISSOToken trades a ticket for a token.
type CLISSOToken struct {
	ID       string `json:"id"`
	Ticket   string `json:"ticket"`
	Verifier string `json:"verifier"`
}

// Validate bounds the fields.
func (s *CLISSOToken) Validate() error {
	if s.ID == "" || len(s.ID) > 64 || s.Ticket == "" || len(s.Ticket) > 128 || len(s.Verifier) < 43 || len(s.Verifier) > 128 {
		return fmt.Errorf("%w: id, ticket and verifier (43..128 characters) required", wire.ErrInvalid)
	}
	return nil
}

var errCLISSO = errors.New("this command-line sign-in is unknown, expired or used: run porthole login --sso again")

func (a *API) cliSSORoutes(m *http.ServeMux) {
	m.HandleFunc("POST /api/cli/sso/start", a.cliSSOStart)
	m.HandleFunc("POST /api/cli/sso/token", a.cliSSOToken)
}

func (a *API) cliSSOStart(w http.ResponseWriter, r *http.Request) {
	var req CLISSOStart
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if _, ok := a.cfg.SSO.Provider(req.Provider); !ok {
		a.fail(w, r, sso.ErrUnknownProvider)
		return
	}
	c, now := a.cfg.CLISSO, a.cfg.Clock.Now()
	c.mu.Lock()
	for k, v := range c.m {
		if !now.Before(v.expires) {
			delete(c.m, k)
		}
	}
	if len(c.m) >= maxCLISignIns {
		c.mu.Unlock()
		a.fail(w, r, sso.ErrBusy)
		return
	}
	id := auth.NewID()
	c.m[id] = &cliSignIn{provider: req.Provider, challenge: req.Challenge, port: req.Port, tokenName: req.TokenName, expires: now.Add(sso.FlowTTL)}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": id,
		"login_path": "/api/sso/" + url.PathEscape(req.Provider) + "/login?cli=" + url.QueryEscape(id)})
}

// cliSSODone gives the signed-in browser's ticket to the CLI's listener.
func (a *API) cliSSODone(w http.ResponseWriter, r *http.Request, id sso.Identity, u store.User) {
	c, now := a.cfg.CLISSO, a.cfg.Clock.Now()
	ticket := auth.RandomToken(32)
	c.mu.Lock()
	s, ok := c.m[id.Ref]
	if ok && now.Before(s.expires) && s.ticket == "" && s.provider == id.Provider {
		s.ticket, s.userID = auth.TokenHash(ticket), u.ID
	} else {
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		a.ssoRefused(w, r, id, errCLISSO)
		return
	}
	http.Redirect(w, r, "http://127.0.0.1:"+strconv.Itoa(s.port)+"/callback?ticket="+url.QueryEscape(ticket), http.StatusSeeOther)
}

func (a *API) cliSSOToken(w http.ResponseWriter, r *http.Request) {
	var req CLISSOToken
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, now := a.cfg.CLISSO, a.cfg.Clock.Now()
	c.mu.Lock()
	s, ok := c.m[req.ID]
	sum := sha256.Sum256([]byte(req.Verifier))
	ok = ok && now.Before(s.expires) && s.ticket != "" &&
		subtle.ConstantTimeCompare([]byte(s.ticket), []byte(auth.TokenHash(req.Ticket))) == 1 &&
		subtle.ConstantTimeCompare([]byte(s.challenge), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))) == 1
	if ok {
		delete(c.m, req.ID) // single use
	}
	c.mu.Unlock()
	if !ok {
		a.recordFailure(r, "login.failed", map[string]any{"reason": "cli_sso_ticket", "via": "cli-sso"})
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": errCLISSO.Error()})
		return
	}
	u, err := a.cfg.Store.UserByID(r.Context(), s.userID)
	if err != nil || u.Disabled {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": errCLISSO.Error()})
		return
	}
	a.issueCLIToken(w, r, u, s.tokenName, "idp")
}
