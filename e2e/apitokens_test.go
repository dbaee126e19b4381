package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"porthole/broker/auth"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

// apiTokenView is an API token as the broker lists it.
type apiTokenView struct {
	ID         string
	Kind       string
	Scopes     []string
	Token      string
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	LastUsedIP string     `json:"last_used_ip"`
	Revoked    bool
}

func newAPIToken(t *testing.T, c *client, seconds int, scopes ...string) apiTokenView {
	t.Helper()
	var v apiTokenView
	if st, body := c.do("POST", "/api/api-tokens", map[string]any{"scopes": scopes, "expires_in_seconds": seconds, "note": "test"}, &v); st != 201 || v.Token == "" {
		t.Fatalf("create token %v: %d %s", scopes, st, body)
	}
	return v
}

// TestAPITokens: API tokens are created per user with scopes, shown once,
// stored hashed, listed with their last use, never more than their owner
// may do at the time (a demoted owner's token shrinks), refused past their
// scope with 403 naming the missing scope, 401 once expired or revoked
// (revocation also closes the websockets they opened), and bounded by the
// admins' settings; "porthole login" tokens live cli.token_hours.
func TestAPITokens(t *testing.T) {
	clk := clocktest.New(time.Now())
	e := startBroker(t, clk)
	admin := e.login(t, "admin", e.Password)
	dev, _ := quietDevice(t, e, admin, "lab")
	tomID, pw := newUser(t, admin, "tom", "technician")
	tom := e.login(t, "tom", pw)
	session := map[string]any{"device_id": dev}
	deviceRights := func(token string) []string {
		var d struct{ Rights []string }
		if st, body := bearer(t, e, token, "GET", "/api/devices/"+dev, nil, &d); st != 200 {
			t.Fatalf("device: %d %s", st, body)
		}
		return d.Rights
	}

	// devices:read lists devices but cannot start a session, though the
	// owner's role could.
	ro := newAPIToken(t, tom, 3600, "devices:read")
	if r := deviceRights(ro.Token); len(r) != 0 {
		t.Fatalf("rights of a devices:read token: %v", r)
	}
	st, body := bearer(t, e, ro.Token, "POST", "/api/sessions", session, nil)
	if st != 403 || !strings.Contains(body, `"missing_scope":"sessions:write"`) {
		t.Fatalf("session with devices:read: %d %s", st, body)
	}
	if log := auditActions(t, admin, ""); !strings.Contains(log, "missing_scope:sessions:write") {
		t.Fatalf("the refusal is not audited:\n%s", log)
	}
	// sessions:* can, as long as the owner's role does.
	rw := newAPIToken(t, tom, 3600, "devices:read", "sessions:*")
	if r := deviceRights(rw.Token); !slices.Equal(r, []string{"connect"}) {
		t.Fatalf("rights of a sessions:* token: %v", r)
	}
	var s struct{ ID string }
	if st, body := bearer(t, e, rw.Token, "POST", "/api/sessions", session, &s); st != 201 {
		t.Fatalf("session with sessions:*: %d %s", st, body)
	}
	if st, body := bearer(t, e, rw.Token, "POST", "/api/sessions/"+s.ID+"/end", nil, nil); st != 200 {
		t.Fatalf("end: %d %s", st, body)
	}
	admin.do("PUT", "/api/users/"+tomID+"/role", map[string]any{"role": "auditor"}, nil)
	if st, _ := bearer(t, e, rw.Token, "POST", "/api/sessions", session, nil); st != 403 {
		t.Fatalf("session after the owner's demotion: %d", st)
	}
	if r := deviceRights(rw.Token); len(r) != 0 {
		t.Fatalf("rights after the owner's demotion: %v", r)
	}
	admin.do("PUT", "/api/users/"+tomID+"/role", map[string]any{"role": "technician"}, nil)
	tom = e.login(t, "tom", pw) // the role change kept the sessions; a fresh one anyway

	// A token never makes a wider token.
	if st, body := bearer(t, e, rw.Token, "POST", "/api/api-tokens", map[string]any{"scopes": []string{"devices:read"}, "expires_in_seconds": 600}, nil); st != 403 ||
		!strings.Contains(body, "tokens:write") {
		t.Fatalf("token without tokens:write made a token: %d %s", st, body)
	}
	mk := newAPIToken(t, tom, 3600, "tokens:write", "devices:read")
	if st, body := bearer(t, e, mk.Token, "POST", "/api/api-tokens", map[string]any{"scopes": []string{"sessions:write"}, "expires_in_seconds": 600}, nil); st != 403 ||
		!strings.Contains(body, `"missing_scope":"sessions:write"`) {
		t.Fatalf("a wider token: %d %s", st, body)
	}
	if st, body := bearer(t, e, mk.Token, "POST", "/api/api-tokens", map[string]any{"scopes": []string{"devices:read"}, "expires_in_seconds": 600}, nil); st != 201 {
		t.Fatalf("a token within the token's scopes: %d %s", st, body)
	}
	if st, body := tom.do("POST", "/api/api-tokens", map[string]any{"scopes": []string{"devices:destroy"}, "expires_in_seconds": 600}, nil); st != 400 ||
		!strings.Contains(body, "devices:destroy") {
		t.Fatalf("an unknown scope: %d %s", st, body)
	}

	// Listed with the last use, never with the value; stored hashed.
	var list []apiTokenView
	if st, body := tom.do("GET", "/api/api-tokens", nil, &list); st != 200 || len(list) != 4 {
		t.Fatalf("list: %d %s", st, body)
	}
	i := slices.IndexFunc(list, func(v apiTokenView) bool { return v.ID == ro.ID })
	if i < 0 || list[i].Token != "" || list[i].LastUsedAt == nil || list[i].LastUsedIP != "127.0.0.1" || !slices.Equal(list[i].Scopes, []string{"devices:read"}) {
		t.Fatalf("listed token: %+v", list)
	}
	st2, err := store.Open(context.Background(), filepath.Join(e.DataDir, "porthole.db"))
	if err != nil {
		t.Fatal(err)
	}
	var hashed, plain int
	st2.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens WHERE hash = ?`, auth.TokenHash(ro.Token)).Scan(&hashed)
	st2.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens WHERE hash = ? OR name = ? OR note = ?`, ro.Token, ro.Token, ro.Token).Scan(&plain)
	st2.Close()
	if hashed != 1 || plain != 0 {
		t.Fatalf("stored: %d by hash, %d in plain text", hashed, plain)
	}

	// Revoked: 401 at once, and its websocket closes.
	events := openEvents(t, e, nil, ro.Token)
	if st, body := tom.do("POST", "/api/api-tokens/"+ro.ID+"/revoke", nil, nil); st != 200 {
		t.Fatalf("revoke: %d %s", st, body)
	}
	if st, _ := bearer(t, e, ro.Token, "GET", "/api/devices", nil, nil); st != 401 {
		t.Fatalf("revoked token: %d", st)
	}
	if c := waitClosed(t, "the revoked token's websocket", events); c.code != 4001 || !strings.Contains(c.reason, "revoked") {
		t.Fatalf("closed with %d %q", c.code, c.reason)
	}
	// A token that does not exist, or that is someone else's: 404, not audited.
	adminTok := newAPIToken(t, admin, 600, "devices:read")
	for _, id := range []string{"nosuchtoken", adminTok.ID} {
		if st, body := tom.do("POST", "/api/api-tokens/"+id+"/revoke", nil, nil); st != 404 {
			t.Fatalf("revoke %s: %d %s", id, st, body)
		}
	}
	if recs := auditRecords(t, admin, "api_token.revoked"); len(recs) != 1 || recs[0].Target != ro.ID {
		t.Fatalf("api_token.revoked records: %+v", recs)
	}
	if st, _ := bearer(t, e, adminTok.Token, "GET", "/api/devices", nil, nil); st != 200 {
		t.Fatal("tom revoked the admin's token")
	}

	// Expired: 401.
	short := newAPIToken(t, tom, 60, "devices:read")
	clk.Advance(61 * time.Second)
	if st, body := bearer(t, e, short.Token, "GET", "/api/devices", nil, nil); st != 401 || !strings.Contains(body, "expired") {
		t.Fatalf("expired token: %d %s", st, body)
	}

	// The admins bound the lifetimes.
	admin.do("PUT", "/api/settings/api_tokens.max_days", map[string]string{"scope": "global", "value": "1"}, nil)
	if st, body := tom.do("POST", "/api/api-tokens", map[string]any{"scopes": []string{"devices:read"}, "expires_in_seconds": 2 * 86400}, nil); st != 400 ||
		!strings.Contains(body, "api_tokens.max_days") {
		t.Fatalf("a token past api_tokens.max_days: %d %s", st, body)
	}
	admin.do("PUT", "/api/settings/cli.token_hours", map[string]string{"scope": "global", "value": "2"}, nil)
	var cli struct {
		Token     string
		ExpiresAt time.Time `json:"expires_at"`
	}
	if st, body := e.newClient(t).do("POST", "/api/cli/login", map[string]string{"username": "tom", "password": pw}, &cli); st != 200 {
		t.Fatalf("cli login: %d %s", st, body)
	}
	if d := cli.ExpiresAt.Sub(clk.Now()); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
		t.Fatalf("cli token lives %v, want cli.token_hours = 2h", d)
	}
	clk.Advance(2*time.Hour + time.Minute)
	if st, _ := bearer(t, e, cli.Token, "GET", "/api/devices", nil, nil); st != 401 {
		t.Fatalf("cli token past cli.token_hours: %d", st)
	}
}
