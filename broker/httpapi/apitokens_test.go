package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"porthole/broker/access"
	"porthole/broker/auth"
	"porthole/broker/store"
)

// fakeTokens stands in for auth.Authenticator's token methods (tested
// with the real store in broker/auth).
type fakeTokens struct {
	byID   map[string]store.APIToken
	issued []auth.TokenSpec
}

func (f *fakeTokens) IssueToken(_ context.Context, u store.User, spec auth.TokenSpec) (string, store.APIToken, error) {
	f.issued = append(f.issued, spec)
	t := store.APIToken{ID: spec.ID, UserID: u.ID, Kind: spec.Kind, Scopes: spec.Scopes, Note: spec.Note,
		ExpiresAt: time.Unix(1700000000, 0).Add(spec.TTL)}
	f.byID[t.ID] = t
	return "pht_secret", t, nil
}

func (f *fakeTokens) Tokens(_ context.Context, userID string) ([]store.APIToken, error) {
	var out []store.APIToken
	for _, t := range f.byID {
		if t.UserID == userID {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b store.APIToken) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (f *fakeTokens) TokenByID(_ context.Context, id string) (store.APIToken, error) {
	t, ok := f.byID[id]
	if !ok {
		return t, fmt.Errorf("api token: %w", store.ErrNotFound)
	}
	return t, nil
}

func (f *fakeTokens) RevokeToken(_ context.Context, id string) error {
	t := f.byID[id]
	t.Revoked = true
	f.byID[id] = t
	return nil
}

// tokenRig is the API tokens handler group over fakes, recording what it
// audits and which websockets it closes.
type tokenRig struct {
	tokens  *fakeTokens
	audited []string
	closed  []string
	auditOK bool
	g       tokensAPI
}

func newTokenRig(t *testing.T) *tokenRig {
	api, _ := testAPI(t)
	r := &tokenRig{auditOK: true, tokens: &fakeTokens{byID: map[string]store.APIToken{
		"mine":   {ID: "mine", UserID: "u1", Kind: store.TokenAPI, Scopes: []string{"devices:read"}},
		"cli":    {ID: "cli", UserID: "u1", Kind: store.TokenCLI},
		"theirs": {ID: "theirs", UserID: "u2", Kind: store.TokenAPI, Scopes: []string{"audit:read"}},
		"old":    {ID: "old", UserID: "u1", Kind: store.TokenAPI, Revoked: true},
	}}}
	r.g = tokensAPI{tokens: r.tokens, fail: api.fail,
		user: func(_ context.Context, id string) (store.User, error) {
			return store.User{ID: id, Username: "tom"}, nil
		},
		maxDays: func(context.Context) (int, error) { return 2, nil },
		record: func(_ *http.Request, action, target string, _ map[string]any) error {
			if !r.auditOK {
				return errors.New("audit down")
			}
			r.audited = append(r.audited, action+" "+target)
			return nil
		},
		closeConns: func(id, reason string) []string { r.closed = append(r.closed, id+": "+reason); return nil }}
	return r
}

// TestAPITokenHandlers drives the API tokens handler group.
func TestAPITokenHandlers(t *testing.T) {
	tom := auth.Principal{UserID: "u1", Username: "tom", Role: auth.Technician}
	tomToken := tom
	tomToken.TokenID, tomToken.Scopes = "mine", auth.Scopes{"devices:read", "tokens:write"}
	admin := auth.Principal{UserID: "u9", Username: "admin", Role: auth.Admin}
	tests := []struct {
		name    string
		p       auth.Principal
		route   func(tokensAPI) http.HandlerFunc
		id      string
		body    string
		auditOK bool
		status  int
		has     string
		audited []string
		closed  []string
		issued  int
	}{
		{"list mine", tomToken, method(tokensAPI.list), "", "", true, 200, `"id":"mine"`, nil, nil, 0},
		{"create", tom, method(tokensAPI.create), "", `{"scopes":["sessions:*","devices:read"],"expires_in_seconds":86400,"note":"ci"}`, true, 201,
			`"token":"pht_secret"`, []string{"api_token.created "}, nil, 1},
		{"create unknown scope", tom, method(tokensAPI.create), "", `{"scopes":["devices:delete"],"expires_in_seconds":600}`, true, 400,
			"devices:delete", nil, nil, 0},
		{"create wider than the token", tomToken, method(tokensAPI.create), "", `{"scopes":["sessions:write"],"expires_in_seconds":600}`, true, 403,
			`"missing_scope":"sessions:write"`, nil, nil, 0},
		{"create all from a token", tomToken, method(tokensAPI.create), "", `{"scopes":["*"],"expires_in_seconds":600}`, true, 403,
			`"missing_scope":"devices:write"`, nil, nil, 0},
		{"create within the token", tomToken, method(tokensAPI.create), "", `{"scopes":["devices:read"],"expires_in_seconds":600}`, true, 201,
			`"scopes":["devices:read"]`, []string{"api_token.created "}, nil, 1},
		{"create too long", tom, method(tokensAPI.create), "", `{"scopes":["devices:read"],"expires_in_seconds":259200}`, true, 400,
			"at most 2 days (the api_tokens.max_days setting)", nil, nil, 0},
		{"create too short", tom, method(tokensAPI.create), "", `{"scopes":["devices:read"],"expires_in_seconds":5}`, true, 400, "expires_in_seconds", nil, nil, 0},
		{"create unaudited", tom, method(tokensAPI.create), "", `{"scopes":["devices:read"],"expires_in_seconds":600}`, false, 500, "internal error", nil, nil, 0},
		{"revoke mine", tom, method(tokensAPI.revoke), "mine", "", true, 200, `"revoked":true`, []string{"api_token.revoked mine"},
			[]string{"mine: the API token was revoked"}, 0},
		{"revoke my CLI token", tom, method(tokensAPI.revoke), "cli", "", true, 200, `"kind":"cli"`, []string{"api_token.revoked cli"},
			[]string{"cli: the API token was revoked"}, 0},
		{"revoke nonexistent", tom, method(tokensAPI.revoke), "nosuch", "", true, 404, "not found", nil, nil, 0},
		{"revoke someone else's", tom, method(tokensAPI.revoke), "theirs", "", true, 404, "not found", nil, nil, 0},
		{"admin revokes someone else's", admin, method(tokensAPI.revoke), "theirs", "", true, 200, `"revoked":true`,
			[]string{"api_token.revoked theirs"}, []string{"theirs: the API token was revoked"}, 0},
		{"revoke again", tom, method(tokensAPI.revoke), "old", "", true, 200, `"revoked":true`, nil, nil, 0},
		{"revoke unaudited", tom, method(tokensAPI.revoke), "mine", "", false, 500, "internal error", nil, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTokenRig(t)
			r.auditOK = tc.auditOK
			w := call(tc.route(r.g), tc.p, "POST", "/x", tc.body, "id", tc.id)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.has) {
				t.Fatalf("%d %s, want %d with %q", w.Code, w.Body, tc.status, tc.has)
			}
			if len(r.audited) == 1 && strings.HasPrefix(r.audited[0], "api_token.created ") {
				// the id is new: it must be the issued token's
				if id := strings.TrimPrefix(r.audited[0], "api_token.created "); id == "" || r.tokens.issued[0].ID != id {
					t.Fatalf("audited %v, issued %+v", r.audited, r.tokens.issued)
				}
				r.audited[0] = "api_token.created "
			}
			if !slices.Equal(r.audited, tc.audited) || !slices.Equal(r.closed, tc.closed) || len(r.tokens.issued) != tc.issued {
				t.Fatalf("audited %q closed %q issued %d", r.audited, r.closed, len(r.tokens.issued))
			}
			if tc.issued == 1 {
				spec := r.tokens.issued[0]
				if spec.Kind != store.TokenAPI || spec.TTL <= 0 || len(spec.Scopes) == 0 {
					t.Fatalf("issued %+v", spec)
				}
			}
			if tc.name == "list mine" {
				var vs []APITokenView
				_ = json.Unmarshal(w.Body.Bytes(), &vs)
				if len(vs) != 3 || !slices.ContainsFunc(vs, func(v APITokenView) bool { return v.ID == "mine" && v.Current }) ||
					slices.ContainsFunc(vs, func(v APITokenView) bool { return v.ID == "theirs" || v.Token != "" }) {
					t.Fatalf("list %+v", vs)
				}
			}
		})
	}
}

// TestRouteScopes: every route that checks no permission at the door has
// its scopes in routeScopes (a scoped token is refused anywhere else), the
// table names only registered routes and known scopes, and each device
// right's scope is its permission's.
func TestRouteScopes(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	reg := regexp.MustCompile(`HandleFunc\("([A-Z]+ /api/[^"]*)", (a\.authed\(([^,]*),|a\.mfaAuthed\(|a\.onDevice\(|[^)]*)`)
	registered := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range reg.FindAllStringSubmatch(string(src), -1) {
			registered[m[1]] = true
			open := m[3] == `""` || strings.HasPrefix(m[2], "a.mfaAuthed(") || strings.HasPrefix(m[2], "a.onDevice(")
			if _, listed := routeScopes[m[1]]; open && !listed {
				t.Errorf("route %s checks no permission and has no scopes in routeScopes", m[1])
			}
		}
	}
	if len(registered) < 60 {
		t.Fatalf("found only %d routes", len(registered))
	}
	for route, scopes := range routeScopes {
		if !registered[route] {
			t.Errorf("routeScopes lists %s, which is not registered", route)
		}
		for _, s := range scopes {
			if _, err := auth.ParseScopes([]string{s}); err != nil {
				t.Errorf("%s: %v", route, err)
			}
		}
	}
	for _, x := range rights {
		want := auth.ScopeOf(x.perm)
		if x.perm == "" {
			want = auth.ScopeOf(auth.ConnectDevice) // unattended is a way of connecting
		}
		if x.scope != want {
			t.Errorf("right %s: scope %s, want %s", x.name, x.scope, want)
		}
		if x.perm != "" && !auth.IsDevicePermission(x.perm) {
			t.Errorf("right %s: %s is not a device permission", x.name, x.perm)
		}
	}
	if len(auth.DevicePermissions) != 3 || standIn(auth.ConnectDevice) != access.RemoteSupport {
		t.Fatal("device permissions and the rights table disagree")
	}
}

// TestScopeAllows: a scoped token gets past the door only with its
// route's scope, and a refusal is audited and names the scope.
func TestScopeAllows(t *testing.T) {
	api, st := testAPI(t)
	scoped := auth.Principal{UserID: "u1", Username: "tom", Role: auth.Technician, TokenID: "t1", Scopes: auth.Scopes{"devices:read", "access:*"}}
	full := scoped
	full.Scopes = nil
	tests := []struct {
		p       auth.Principal
		perm    auth.Permission
		pattern string
		ok      bool
		missing string
	}{
		{scoped, auth.ViewDevices, "GET /api/devices", true, ""},
		{scoped, "", "POST /api/sessions", false, "sessions:write"},
		{scoped, "", "POST /api/sessions/{id}/end", false, "sessions:write"},
		{scoped, "", "POST /api/access/requests", true, ""},
		{scoped, "", "GET /api/me", true, ""},
		{scoped, auth.ViewAudit, "GET /api/audit", false, "audit:read"},
		{scoped, "", "GET /api/not/listed", false, ""},
		{full, "", "GET /api/not/listed", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			var ok bool
			w := call(func(w http.ResponseWriter, r *http.Request) {
				r.Pattern = tc.pattern
				ok = api.scopeAllows(w, r, tc.perm)
			}, tc.p, "GET", "/x", "")
			if ok != tc.ok {
				t.Fatalf("ok = %v (%d %s)", ok, w.Code, w.Body)
			}
			if !ok && (w.Code != 403 || !strings.Contains(w.Body.String(), `"missing_scope":"`+tc.missing+`"`)) {
				t.Fatalf("refusal %d %s", w.Code, w.Body)
			}
		})
	}
	recs, err := st.AuditRecords(context.Background(), store.AuditFilter{Action: "access.denied", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d refusals audited, want 4", len(recs))
	}
}
