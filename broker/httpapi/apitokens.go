package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"porthole/broker/auth"
	"porthole/broker/conns"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// tokenManager is what the API token routes call (auth.Authenticator).
type tokenManager interface {
	IssueToken(ctx context.Context, u store.User, spec auth.TokenSpec) (string, store.APIToken, error)
	Tokens(ctx context.Context, userID string) ([]store.APIToken, error)
	TokenByID(ctx context.Context, id string) (store.APIToken, error)
	RevokeToken(ctx context.Context, id string) error
}

var _ tokenManager = (*auth.Authenticator)(nil)

// tokensAPI is the API tokens handler group: every logged-in user manages
// their own tokens (a scoped token needs tokens:read / tokens:write);
// users.manage may also revoke anyone's.
type tokensAPI struct {
	tokens tokenManager
	user   func(ctx context.Context, id string) (store.User, error)
	// maxDays is the api_tokens.max_days setting.
	maxDays func(ctx context.Context) (int, error)
	record  func(r *http.Request, action, target string, details map[string]any) error
	// closeConns closes the websockets a revoked token opened.
	closeConns func(tokenID, reason string) []string
	fail       func(w http.ResponseWriter, r *http.Request, err error)
}

func (a *API) apiTokenRoutes(m *http.ServeMux) {
	t := tokensAPI{tokens: a.cfg.Auth, user: a.cfg.Store.UserByID, record: a.record, fail: a.fail,
		maxDays:    func(ctx context.Context) (int, error) { return a.cfg.Settings.Int(ctx, "", settings.APITokensMaxDays) },
		closeConns: func(id, reason string) []string { return a.cfg.Conns.Close(conns.ByToken(id), reason) }}
	m.HandleFunc("GET /api/scopes", a.authed("", a.listScopes))
	m.HandleFunc("GET /api/api-tokens", a.authed("", t.list))
	m.HandleFunc("POST /api/api-tokens", a.authed("", t.create))
	m.HandleFunc("POST /api/api-tokens/{id}/revoke", a.authed("", t.revoke))
}

// errTokenTooLong is an API token asked for longer than api_tokens.max_days.
var errTokenTooLong = errors.New("API token lifetime too long")

// APITokenView is an API or CLI token without its secret.
type APITokenView struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"` // "api" or "cli"
	Name       string     `json:"name"`
	Note       string     `json:"note"`
	Scopes     []string   `json:"scopes"` // empty for "cli": all of the owner's rights
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	LastUsedIP string     `json:"last_used_ip,omitempty"`
	Revoked    bool       `json:"revoked"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// Current: the token this request came with.
	Current bool `json:"current,omitempty"`
	// Token is the value, set only in the answer that creates it.
	Token string `json:"token,omitempty"`
}

func apiTokenView(t store.APIToken, current string) APITokenView {
	v := APITokenView{ID: t.ID, Kind: t.Kind, Name: t.Name, Note: t.Note, Scopes: t.Scopes, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		LastUsedIP: t.LastUsedIP, Revoked: t.Revoked, Current: t.ID == current}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	if !t.LastUsedAt.IsZero() {
		at := t.LastUsedAt
		v.LastUsedAt = &at
	}
	if !t.RevokedAt.IsZero() {
		at := t.RevokedAt
		v.RevokedAt = &at
	}
	return v
}

func (t tokensAPI) list(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	ts, err := t.tokens.Tokens(r.Context(), p.UserID)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	out := make([]APITokenView, 0, len(ts))
	for _, x := range ts {
		out = append(out, apiTokenView(x, p.TokenID))
	}
	writeJSON(w, http.StatusOK, out)
}

// create issues an API token for the caller with scopes (never wider than
// the caller's own token) and a lifetime up to api_tokens.max_days. The
// value is in this answer only; the broker keeps its hash.
func (t tokensAPI) create(w http.ResponseWriter, r *http.Request) {
	var req wire.APITokenRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		t.fail(w, r, err)
		return
	}
	scopes, err := auth.ParseScopes(req.Scopes)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	p := principal(r)
	if !p.Scopes.Covers(scopes) {
		t.fail(w, r, &scopeError{firstMissing(p.Scopes, scopes)})
		return
	}
	days, err := t.maxDays(r.Context())
	if err != nil {
		t.fail(w, r, err)
		return
	}
	ttl := time.Duration(req.ExpiresInSeconds) * time.Second
	if ttl > time.Duration(days)*24*time.Hour {
		t.fail(w, r, fmt.Errorf("%w: at most %d days (the api_tokens.max_days setting)", errTokenTooLong, days))
		return
	}
	u, err := t.user(r.Context(), p.UserID)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	id := auth.NewID()
	// Fail closed: a token whose creation cannot be audited is not made.
	if err := t.record(r, "api_token.created", id, map[string]any{"scopes": []string(scopes), "expires_in_seconds": req.ExpiresInSeconds,
		"note": req.Note, "via_token": p.TokenID}); err != nil {
		t.fail(w, r, err)
		return
	}
	secret, tok, err := t.tokens.IssueToken(r.Context(), u, auth.TokenSpec{ID: id, Name: "api", Kind: store.TokenAPI, Scopes: scopes,
		Note: req.Note, TTL: ttl})
	if err != nil {
		t.fail(w, r, err)
		return
	}
	v := apiTokenView(tok, p.TokenID)
	v.Token = secret
	writeJSON(w, http.StatusCreated, v)
}

// firstMissing names a scope req grants that have does not.
func firstMissing(have, req auth.Scopes) string {
	for _, d := range auth.Vocabulary {
		if req.Has(d.Name) && !have.Has(d.Name) {
			return d.Name
		}
	}
	return ""
}

// revoke revokes one of the caller's tokens (or, with users.manage,
// anyone's) at once: its next request gets 401 and the websockets it
// opened close. A token that does not exist — or that the caller may not
// see — is 404 and not audited.
func (t tokensAPI) revoke(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	tok, err := t.tokens.TokenByID(r.Context(), r.PathValue("id"))
	if err == nil && tok.UserID != p.UserID && !p.Can(auth.ManageUsers) {
		err = fmt.Errorf("api token: %w", store.ErrNotFound)
	}
	if err != nil {
		t.fail(w, r, err)
		return
	}
	if tok.Revoked {
		writeJSON(w, http.StatusOK, apiTokenView(tok, p.TokenID))
		return
	}
	if err := t.record(r, "api_token.revoked", tok.ID, map[string]any{"owner": tok.UserID, "kind": tok.Kind}); err != nil {
		t.fail(w, r, err)
		return
	}
	if err := t.tokens.RevokeToken(r.Context(), tok.ID); err != nil {
		t.fail(w, r, err)
		return
	}
	t.closeConns(tok.ID, "the API token was revoked")
	tok, err = t.tokens.TokenByID(r.Context(), tok.ID)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiTokenView(tok, p.TokenID))
}
