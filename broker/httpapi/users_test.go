package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"porthole/broker/audit"
	"porthole/broker/auth"
	"porthole/broker/lifecycle"
	"porthole/broker/mfa"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testAPI is an API with a real store and audit log and nothing else: what
// the handler groups' fail and record need.
func testAPI(t *testing.T) (*API, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clocktest.New(time.Unix(1700000000, 0))
	return &API{cfg: Config{Store: st, Audit: audit.New(st, clk), Clock: clk}, log: slog.New(slog.DiscardHandler)}, st
}

// call runs handler h on a request from p with path values and a JSON body.
func call(h http.HandlerFunc, p auth.Principal, method, target, body string, pathValues ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.RemoteAddr = "10.1.2.3:5555"
	for i := 0; i+1 < len(pathValues); i += 2 {
		r.SetPathValue(pathValues[i], pathValues[i+1])
	}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
	w := httptest.NewRecorder()
	h(w, r)
	return w
}

// fakeUsers stands in for lifecycle.Service (tested in broker/lifecycle
// with the real store).
type fakeUsers struct {
	calls []string
	err   error
	res   lifecycle.Result
}

func (f *fakeUsers) note(who lifecycle.Actor, format string, args ...any) (lifecycle.Result, error) {
	f.calls = append(f.calls, who.Username+"@"+who.SourceIP+" "+fmt.Sprintf(format, args...))
	return f.res, f.err
}

func (f *fakeUsers) List(_ context.Context, withDeleted bool) ([]lifecycle.User, error) {
	f.calls = append(f.calls, fmt.Sprintf("list %v", withDeleted))
	return []lifecycle.User{f.res.User}, f.err
}
func (f *fakeUsers) Create(_ context.Context, who lifecycle.Actor, name, role string, groups []string) (lifecycle.Result, error) {
	return f.note(who, "create %s %s %q", name, role, groups)
}
func (f *fakeUsers) Disable(_ context.Context, who lifecycle.Actor, id string) (lifecycle.Result, error) {
	return f.note(who, "disable %s", id)
}
func (f *fakeUsers) Enable(_ context.Context, who lifecycle.Actor, id string) (lifecycle.Result, error) {
	return f.note(who, "enable %s", id)
}
func (f *fakeUsers) SetRole(_ context.Context, who lifecycle.Actor, id, role string, groups []string) (lifecycle.Result, error) {
	return f.note(who, "role %s %s %q", id, role, groups)
}
func (f *fakeUsers) ResetPassword(_ context.Context, who lifecycle.Actor, id string) (lifecycle.Result, error) {
	return f.note(who, "password %s", id)
}
func (f *fakeUsers) ResetMFA(_ context.Context, who lifecycle.Actor, id string) (lifecycle.Result, error) {
	return f.note(who, "mfa %s", id)
}
func (f *fakeUsers) Delete(_ context.Context, who lifecycle.Actor, id string) (lifecycle.Result, error) {
	return f.note(who, "delete %s", id)
}

// method makes a handler method of a group a route for the table.
func method[G any](f func(G, http.ResponseWriter, *http.Request)) func(G) http.HandlerFunc {
	return func(g G) http.HandlerFunc { return func(w http.ResponseWriter, r *http.Request) { f(g, w, r) } }
}

// TestUserHandlers drives the Users handler group: request decoding, what
// the lifecycle is asked, the answer and the mapping of its errors.
func TestUserHandlers(t *testing.T) {
	api, _ := testAPI(t)
	done := lifecycle.Result{User: lifecycle.User{ID: "u1", Username: "tom", Role: "technician"}, Password: "pw1",
		Cascade: lifecycle.Cascade{PortalSessions: 2, Websockets: []string{"events:1"}, Tokens: []string{"t1"}, RemoteSessions: []string{"s1"}}}
	adminP := auth.Principal{UserID: "a1", Username: "admin", Role: auth.Admin}
	tests := []struct {
		name     string
		route    func(usersAPI) http.HandlerFunc
		method   string
		target   string
		body     string
		err      error
		wantCall string
		status   int
		contains string
	}{
		{"list", method(usersAPI.list), "GET", "/api/users", "", nil, "list false", 200, `"username":"tom"`},
		{"list with deleted", method(usersAPI.list), "GET", "/api/users?deleted=true", "", nil, "list true", 200, `"id":"u1"`},
		{"create", method(usersAPI.create), "POST", "/api/users", `{"username":"tom","role":"technician","groups":["gA"]}`, nil,
			`admin@10.1.2.3 create tom technician ["gA"]`, 201, `"password":"pw1"`},
		{"create everywhere", method(usersAPI.create), "POST", "/api/users", `{"username":"tom","role":"auditor","groups":[]}`, nil,
			`admin@10.1.2.3 create tom auditor []`, 201, `"role":"technician"`},
		{"create unknown field", method(usersAPI.create), "POST", "/api/users", `{"username":"tom","role":"auditor","admin":true}`, nil, "", 400, "unknown field"},
		{"create bad role", method(usersAPI.create), "POST", "/api/users", `{"username":"tom","role":"root"}`, nil, "", 400, "role must be"},
		{"create taken", method(usersAPI.create), "POST", "/api/users", `{"username":"tom","role":"auditor"}`, store.ErrConflict, "admin@10.1.2.3 create tom auditor []", 409, ""},
		{"create a deleted name", method(usersAPI.create), "POST", "/api/users", `{"username":"tom","role":"auditor"}`, lifecycle.ErrDeletedName,
			"admin@10.1.2.3 create tom auditor []", 409, "deleted user"},
		{"disable", func(u usersAPI) http.HandlerFunc { return u.act(userDisable) }, "POST", "/api/users/u1/disable", "", nil,
			"admin@10.1.2.3 disable u1", 200, `"cascade":{"portal_sessions_ended":2,"websockets_closed":["events:1"],"tokens_revoked":["t1"],"remote_sessions_terminated":["s1"]}`},
		{"disable the last admin", func(u usersAPI) http.HandlerFunc { return u.act(userDisable) }, "POST", "/api/users/u1/disable", "",
			store.ErrLastAdmin, "admin@10.1.2.3 disable u1", 409, "no enabled admin"},
		{"enable unknown", func(u usersAPI) http.HandlerFunc { return u.act(userEnable) }, "POST", "/api/users/u1/enable", "",
			fmt.Errorf("user u1: %w", store.ErrNotFound), "admin@10.1.2.3 enable u1", 404, "not found"},
		{"reset password", func(u usersAPI) http.HandlerFunc { return u.act(userResetPassword) }, "POST", "/api/users/u1/password/reset", "", nil,
			"admin@10.1.2.3 password u1", 200, `"password":"pw1"`},
		{"reset MFA", func(u usersAPI) http.HandlerFunc { return u.act(userResetMFA) }, "POST", "/api/users/u1/mfa/reset", "", nil,
			"admin@10.1.2.3 mfa u1", 200, `"sessions_ended":2`},
		{"reset MFA not enrolled", func(u usersAPI) http.HandlerFunc { return u.act(userResetMFA) }, "POST", "/api/users/u1/mfa/reset", "",
			mfa.ErrNotEnrolled, "admin@10.1.2.3 mfa u1", 409, ""},
		{"delete", func(u usersAPI) http.HandlerFunc { return u.act(userDelete) }, "DELETE", "/api/users/u1", "", nil,
			"admin@10.1.2.3 delete u1", 200, `"status":"deleted"`},
		{"role with groups", method(usersAPI.setRole), "PUT", "/api/users/u1/role", `{"role":"technician","groups":["gA","gB"]}`, nil,
			`admin@10.1.2.3 role u1 technician ["gA" "gB"]`, 200, `"status":"role changed"`},
		{"role everywhere", method(usersAPI.setRole), "PUT", "/api/users/u1/role", `{"role":"technician"}`, nil,
			`admin@10.1.2.3 role u1 technician []`, 200, ""},
		{"role not bindable", method(usersAPI.setRole), "PUT", "/api/users/u1/role", `{"role":"auditor","groups":["gA"]}`, lifecycle.ErrNotBindable,
			`admin@10.1.2.3 role u1 auditor ["gA"]`, 400, "only the technician role"},
		{"role unknown group", method(usersAPI.setRole), "PUT", "/api/users/u1/role", `{"role":"technician","groups":["gX"]}`,
			fmt.Errorf("role binding on group gX: %w", store.ErrUnknownGroup), `admin@10.1.2.3 role u1 technician ["gX"]`, 400, "no such device group"},
		{"role empty group", method(usersAPI.setRole), "PUT", "/api/users/u1/role", `{"role":"technician","groups":[""]}`, nil, "", 400, "empty group"},
		{"role internal error", method(usersAPI.setRole), "PUT", "/api/users/u1/role", `{"role":"admin"}`, errors.New("disk on fire"),
			`admin@10.1.2.3 role u1 admin []`, 500, `"internal error"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeUsers{err: tc.err, res: done}
			u := usersAPI{svc: f, fail: api.fail}
			w := call(tc.route(u), adminP, tc.method, tc.target, tc.body, "id", "u1")
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.contains) {
				t.Fatalf("%d %s, want %d containing %q", w.Code, w.Body, tc.status, tc.contains)
			}
			var want []string
			if tc.wantCall != "" {
				want = []string{tc.wantCall}
			}
			if diff := cmp.Diff(want, f.calls); diff != "" {
				t.Fatalf("calls (-want +got):\n%s", diff)
			}
			if w.Code < 300 && !json.Valid(w.Body.Bytes()) {
				t.Fatalf("not JSON: %s", w.Body)
			}
		})
	}
}
