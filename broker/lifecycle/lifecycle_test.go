package lifecycle

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"porthole/broker/audit"
	"porthole/broker/auth"
	"porthole/broker/conns"
	"porthole/broker/mfa"
	"porthole/broker/sessions"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

// fakeSessions stands in for sessions.Manager (whose Live and EndWhere the
// end-to-end tests drive with real sessions).
type fakeSessions struct {
	mu    sync.Mutex
	live  []sessions.Info
	ended map[string]string // id → reason
}

func (f *fakeSessions) Live() []sessions.Info {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.live)
}

func (f *fakeSessions) EndWhere(ctx context.Context, reason string, match func(context.Context, sessions.Info) (bool, error)) ([]string, error) {
	var out []string
	for _, l := range f.Live() {
		ok, err := match(ctx, l)
		if err != nil {
			return out, err
		}
		if ok {
			f.mu.Lock()
			f.live = slices.DeleteFunc(f.live, func(x sessions.Info) bool { return x.ID == l.ID })
			f.ended[l.ID] = reason
			f.mu.Unlock()
			out = append(out, l.ID)
		}
	}
	slices.Sort(out)
	return out, nil
}

// fakeAudit records events, or fails when told to.
type fakeAudit struct {
	events []audit.Event
	fail   bool
}

func (f *fakeAudit) Append(_ context.Context, e audit.Event) (store.AuditRecord, error) {
	if f.fail {
		return store.AuditRecord{}, errors.New("disk full")
	}
	f.events = append(f.events, e)
	return store.AuditRecord{}, nil
}

// fakeMFA stands in for mfa.Manager (tested with the real store in broker/mfa).
type fakeMFA struct{ enrolled map[string]bool }

func (f *fakeMFA) Status(_ context.Context, id string) (mfa.Status, error) {
	return mfa.Status{Enrolled: f.enrolled[id]}, nil
}

func (f *fakeMFA) Reset(_ context.Context, id string) error {
	if !f.enrolled[id] {
		return mfa.ErrNotEnrolled
	}
	delete(f.enrolled, id)
	return nil
}

// rig is a Service over a real store, authenticator and websocket
// registry, with fake remote sessions, audit and MFA.
type rig struct {
	t     *testing.T
	svc   *Service
	st    *store.Store
	auth  *auth.Authenticator
	conns *conns.Registry
	sess  *fakeSessions
	audit *fakeAudit
	mfa   *fakeMFA
	clk   *clocktest.Fake
	// open are the websockets opened, by name.
	open map[string]context.Context
}

var admin = Actor{Username: "admin", SourceIP: "10.0.0.9"}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clocktest.New(time.Unix(1700000000, 0))
	r := &rig{t: t, st: st, auth: auth.New(st, auth.Config{Clock: clk}), conns: conns.New(), sess: &fakeSessions{ended: map[string]string{}},
		audit: &fakeAudit{}, mfa: &fakeMFA{enrolled: map[string]bool{}}, clk: clk, open: map[string]context.Context{}}
	r.svc = New(Config{Store: st, Principals: r.auth, Conns: r.conns, Sessions: r.sess, MFA: r.mfa, Audit: r.audit, Clock: clk,
		NewPassword: func() string { return "generated-password" }, HashPassword: func(_ context.Context, pw string) (string, error) { return "hash:" + pw, nil }})
	for _, u := range []store.User{{ID: "adm", Username: "admin", Role: "admin"}, {ID: "tom", Username: "tom", Role: "technician"},
		{ID: "bob", Username: "bob", Role: "technician"}} {
		u.PasswordHash, u.CreatedAt = "hash", clk.Now()
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// login opens a portal session for id and returns its hash.
func (r *rig) login(id string) string {
	r.t.Helper()
	u, _ := r.st.UserByID(context.Background(), id)
	secret, err := r.auth.StartSession(context.Background(), u)
	if err != nil {
		r.t.Fatal(err)
	}
	return auth.TokenHash(secret)
}

func (r *rig) token(id string, ttl time.Duration) string {
	r.t.Helper()
	u, _ := r.st.UserByID(context.Background(), id)
	_, tok, err := r.auth.IssueToken(context.Background(), u, auth.TokenSpec{TTL: ttl})
	if err != nil {
		r.t.Fatal(err)
	}
	return tok.ID
}

func (r *rig) websocket(name, kind string, o conns.Owner) string {
	ctx, id, done := r.conns.Open(context.Background(), kind, o)
	r.t.Cleanup(done)
	r.open[name] = ctx
	return id
}

// device enrolls a device into group ("" for none).
func (r *rig) device(id, group string) {
	r.t.Helper()
	ctx := context.Background()
	if group != "" {
		if _, err := r.st.Group(ctx, group); err != nil {
			if err := r.st.CreateGroup(ctx, store.Group{ID: group, Name: group, CreatedAt: r.clk.Now()}); err != nil {
				r.t.Fatal(err)
			}
		}
	}
	if err := r.st.CreateEnrollToken(ctx, store.EnrollToken{ID: "et" + id, Hash: "eh" + id, ExpiresAt: r.clk.Now().Add(time.Hour), MaxUses: 1}); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.st.Enroll(ctx, "eh"+id, r.clk.Now(), store.Device{ID: id, PublicKey: []byte(id), SecretSealed: []byte{1}, Hostname: id, EnrolledAt: r.clk.Now()}); err != nil {
		r.t.Fatal(err)
	}
	if group != "" {
		if err := r.st.SetDeviceGroup(ctx, id, group); err != nil {
			r.t.Fatal(err)
		}
	}
}

// TestLockOutCascade: disabling, resetting the password or MFA of, or
// deleting a user ends exactly that user's portal sessions, websockets,
// working tokens and remote sessions, says so in one audit record, and
// leaves everyone else alone.
func TestLockOutCascade(t *testing.T) {
	for _, tc := range []struct {
		action string
		do     func(*Service, context.Context, Actor, string) (Result, error)
		reason string
	}{
		{"user.disabled", (*Service).Disable, "tom's account was disabled by admin"},
		{"user.password_reset", (*Service).ResetPassword, "tom's password was reset by admin"},
		{"mfa.reset", (*Service).ResetMFA, "tom's two-factor authentication was reset by admin"},
		{"user.deleted", (*Service).Delete, "tom's account was deleted by admin"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			r := newRig(t)
			ctx := context.Background()
			r.mfa.enrolled["tom"], r.mfa.enrolled["bob"] = true, true
			s1, s2 := r.login("tom"), r.login("tom")
			bobSession := r.login("bob")
			cli, api := r.token("tom", time.Hour), r.token("tom", 2*time.Hour)
			r.token("tom", time.Minute)
			bobToken := r.token("bob", time.Hour)
			r.clk.Advance(2 * time.Minute) // the third token has expired
			ev := r.websocket("tom events", conns.Events, conns.Owner{UserID: "tom", SessionHash: s1})
			sig := r.websocket("tom signal", conns.Signal, conns.Owner{UserID: "tom", SessionHash: s2})
			tokWS := r.websocket("tom token", conns.Events, conns.Owner{UserID: "tom", TokenID: api})
			r.websocket("bob", conns.Events, conns.Owner{UserID: "bob", SessionHash: bobSession})
			r.sess.live = []sessions.Info{{ID: "rs-tom", DeviceID: "d1", Requester: "tom"}, {ID: "rs-bob", DeviceID: "d2", Requester: "bob"}}

			res, err := tc.do(r.svc, ctx, admin, "tom")
			if err != nil {
				t.Fatal(err)
			}
			want := Cascade{PortalSessions: 2, Websockets: sorted(ev, sig, tokWS), Tokens: sorted(cli, api), RemoteSessions: []string{"rs-tom"}}
			if diff := cmp.Diff(want, res.Cascade); diff != "" {
				t.Fatalf("cascade (-want +got):\n%s", diff)
			}
			if len(r.audit.events) != 1 {
				t.Fatalf("audit: %+v", r.audit.events)
			}
			e := r.audit.events[0]
			if e.Action != tc.action || e.Actor != "user:admin" || e.Target != "tom" || e.SourceIP != "10.0.0.9" || e.Details["username"] != "tom" {
				t.Fatalf("audit event %+v", e)
			}
			if diff := cmp.Diff(want.details(), e.Details["cascade"]); diff != "" {
				t.Fatalf("audited cascade (-want +got):\n%s", diff)
			}
			for _, name := range []string{"tom events", "tom signal", "tom token"} {
				if got := conns.Reason(r.open[name]); got != tc.reason {
					t.Errorf("%s closed with %q", name, got)
				}
			}
			if r.open["bob"].Err() != nil || r.sess.ended["rs-bob"] != "" || r.sess.ended["rs-tom"] != tc.reason {
				t.Fatalf("ended: %v, bob's websocket %v", r.sess.ended, r.open["bob"].Err())
			}
			if n, _ := r.st.CountUserWebSessions(ctx, "tom"); n != 0 {
				t.Fatalf("%d portal sessions left", n)
			}
			if n, _ := r.st.CountUserWebSessions(ctx, "bob"); n != 1 {
				t.Fatal("bob's portal session ended")
			}
			if ids, _ := r.st.ActiveUserAPITokens(ctx, "tom", r.clk.Now()); len(ids) != 0 {
				t.Fatalf("tokens left: %v", ids)
			}
			if ids, _ := r.st.ActiveUserAPITokens(ctx, "bob", r.clk.Now()); !slices.Equal(ids, []string{bobToken}) {
				t.Fatal("bob's token revoked")
			}
			u, _ := r.st.UserByID(ctx, "tom")
			switch tc.action {
			case "user.disabled":
				if !u.Disabled {
					t.Fatal("not disabled")
				}
			case "user.password_reset":
				if res.Password != "generated-password" || u.PasswordHash != "hash:generated-password" || u.Disabled {
					t.Fatalf("password reset: %q %+v", res.Password, u)
				}
			case "mfa.reset":
				if r.mfa.enrolled["tom"] || !r.mfa.enrolled["bob"] || u.Disabled {
					t.Fatalf("mfa reset: %v %+v", r.mfa.enrolled, u)
				}
			case "user.deleted":
				if !u.Deleted() || !u.Disabled || r.mfa.enrolled["tom"] || res.User.DeletedAt == nil {
					t.Fatalf("delete: %+v %v", u, r.mfa.enrolled)
				}
				if _, err := r.svc.Enable(ctx, admin, "tom"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("enable a deleted user: %v", err)
				}
				if _, err := r.svc.Create(ctx, admin, "tom", "auditor", nil); !errors.Is(err, ErrDeletedName) {
					t.Fatalf("reuse the name: %v", err)
				}
				list, _ := r.svc.List(ctx, false)
				all, _ := r.svc.List(ctx, true)
				if len(list) != 2 || len(all) != 3 {
					t.Fatalf("list: %d live, %d with deleted", len(list), len(all))
				}
			}
		})
	}
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

// TestAuditFailureUndoes: a change whose audit record cannot be written
// does not happen: the user is as before and nothing of theirs ended.
func TestAuditFailureUndoes(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(*Service) error
	}{
		{"disable", func(s *Service) error { _, err := s.Disable(context.Background(), admin, "tom"); return err }},
		{"password", func(s *Service) error { _, err := s.ResetPassword(context.Background(), admin, "tom"); return err }},
		{"role", func(s *Service) error {
			_, err := s.SetRole(context.Background(), admin, "tom", "auditor", nil)
			return err
		}},
		{"delete", func(s *Service) error { _, err := s.Delete(context.Background(), admin, "tom"); return err }},
		{"mfa", func(s *Service) error { _, err := s.ResetMFA(context.Background(), admin, "tom"); return err }},
		{"create", func(s *Service) error {
			_, err := s.Create(context.Background(), admin, "ann", "auditor", nil)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			ctx := context.Background()
			r.mfa.enrolled["tom"] = true
			r.login("tom")
			r.token("tom", time.Hour)
			r.websocket("tom", conns.Events, conns.Owner{UserID: "tom"})
			r.sess.live = []sessions.Info{{ID: "rs", DeviceID: "d1", Requester: "tom"}}
			before, _ := r.st.UserByID(ctx, "tom")
			r.audit.fail = true
			if err := tc.do(r.svc); err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("err = %v", err)
			}
			after, _ := r.st.UserByID(ctx, "tom")
			if diff := cmp.Diff(before, after); diff != "" {
				t.Fatalf("user changed (-before +after):\n%s", diff)
			}
			n, _ := r.st.CountUserWebSessions(ctx, "tom")
			toks, _ := r.st.ActiveUserAPITokens(ctx, "tom", r.clk.Now())
			if n != 1 || len(toks) != 1 || r.open["tom"].Err() != nil || len(r.sess.ended) != 0 || !r.mfa.enrolled["tom"] {
				t.Fatalf("something ended: sessions %d tokens %v websocket %v remote %v mfa %v", n, toks, r.open["tom"].Err(), r.sess.ended, r.mfa.enrolled)
			}
			if _, err := r.st.UserByName(ctx, "ann"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("ann created: %v", err)
			}
		})
	}
}

// TestLastAdminGuard: the only enabled admin cannot disable, delete or
// demote themselves (or be, by anyone); nothing is audited then.
func TestLastAdminGuard(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for name, do := range map[string]func() error{
		"disable": func() error { _, err := r.svc.Disable(ctx, admin, "adm"); return err },
		"delete":  func() error { _, err := r.svc.Delete(ctx, admin, "adm"); return err },
		"demote":  func() error { _, err := r.svc.SetRole(ctx, admin, "adm", "technician", nil); return err },
	} {
		if err := do(); !errors.Is(err, store.ErrLastAdmin) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(r.audit.events) != 0 {
		t.Fatalf("audited: %+v", r.audit.events)
	}
	// With a second enabled admin, the first may step down.
	if _, err := r.svc.SetRole(ctx, admin, "bob", "admin", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.SetRole(ctx, admin, "adm", "auditor", nil); err != nil {
		t.Fatal(err)
	}
}

// TestSetRole: a role change closes the user's live-events websockets
// (not their viewers'), ends the remote sessions the new role or binding
// does not cover (not those under a grant), keeps portal sessions and
// tokens, and is one audit record with old and new role and groups.
func TestSetRole(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.device("dA", "gA")
	r.device("dB", "gB")
	r.device("dN", "")
	h := r.login("tom")
	tok := r.token("tom", time.Hour)
	ev := r.websocket("events", conns.Events, conns.Owner{UserID: "tom", SessionHash: h})
	r.websocket("signal", conns.Signal, conns.Owner{UserID: "tom", SessionHash: h})
	r.sess.live = []sessions.Info{
		{ID: "on-A", DeviceID: "dA", Requester: "tom"},
		{ID: "on-B", DeviceID: "dB", Requester: "tom"},
		{ID: "no-group", DeviceID: "dN", Requester: "tom"},
		{ID: "granted", DeviceID: "dB", Requester: "tom", Grant: "req1"},
		{ID: "bobs", DeviceID: "dB", Requester: "bob"},
	}
	res, err := r.svc.SetRole(ctx, admin, "tom", "technician", []string{"gA"})
	if err != nil {
		t.Fatal(err)
	}
	want := Cascade{Websockets: []string{ev}, RemoteSessions: []string{"no-group", "on-B"}}
	if diff := cmp.Diff(want, res.Cascade, cmp.Comparer(func(a, b []string) bool { return slices.Equal(orNone(a), orNone(b)) })); diff != "" {
		t.Fatalf("cascade (-want +got):\n%s", diff)
	}
	if !slices.Equal(res.User.Groups, []string{"gA"}) || res.User.Role != "technician" {
		t.Fatalf("user %+v", res.User)
	}
	if r.open["signal"].Err() != nil || !strings.Contains(conns.Reason(r.open["events"]), "role was changed by admin") {
		t.Fatalf("websockets: signal %v, events %q", r.open["signal"].Err(), conns.Reason(r.open["events"]))
	}
	if _, ok := r.sess.ended["on-A"]; ok {
		t.Fatal("the session on the bound group ended")
	}
	if n, _ := r.st.CountUserWebSessions(ctx, "tom"); n != 1 {
		t.Fatal("portal session ended")
	}
	if ids, _ := r.st.ActiveUserAPITokens(ctx, "tom", r.clk.Now()); !slices.Equal(ids, []string{tok}) {
		t.Fatal("token revoked")
	}
	e := r.audit.events[0]
	if e.Action != "user.role_changed" || e.Details["old_role"] != "technician" || e.Details["role"] != "technician" ||
		!slices.Equal(e.Details["groups"].([]string), []string{"gA"}) {
		t.Fatalf("audit %+v", e)
	}
	// To auditor: the role covers nothing any more (the grant still does).
	if res, err = r.svc.SetRole(ctx, admin, "tom", "auditor", nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Cascade.RemoteSessions, []string{"on-A"}) || res.User.Groups != nil {
		t.Fatalf("to auditor: %+v", res)
	}
	if _, ok := r.sess.ended["granted"]; ok {
		t.Fatal("the session under a grant ended")
	}
	if e := r.audit.events[1]; !slices.Equal(e.Details["old_groups"].([]string), []string{"gA"}) {
		t.Fatalf("audit %+v", e)
	}
	for _, bad := range []struct {
		role   string
		groups []string
		err    error
	}{{"auditor", []string{"gA"}, ErrNotBindable}, {"technician", []string{"nosuch"}, store.ErrUnknownGroup}} {
		if _, err := r.svc.SetRole(ctx, admin, "tom", bad.role, bad.groups); !errors.Is(err, bad.err) {
			t.Errorf("SetRole(%s, %v) = %v, want %v", bad.role, bad.groups, err, bad.err)
		}
	}
	if _, err := r.svc.SetRole(ctx, admin, "tom", "root", nil); !IsBadRole(err) {
		t.Errorf("unknown role: %v", err)
	}
}

// TestRecheck: after access.standing turns to none, the sessions running
// on a technician's role end; admins' and grant-carried ones go on.
func TestRecheck(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.device("dA", "gA")
	standing := true
	r.auth = auth.New(r.st, auth.Config{Clock: r.clk, Standing: func(context.Context) (bool, error) { return standing, nil }})
	r.svc.cfg.Principals = r.auth
	r.sess.live = []sessions.Info{
		{ID: "tech", DeviceID: "dA", Requester: "tom"},
		{ID: "granted", DeviceID: "dA", Requester: "bob", Grant: "g1"},
		{ID: "admin", DeviceID: "dA", Requester: "admin"},
		{ID: "gone", DeviceID: "dA", Requester: "nobody"},
	}
	ended, err := r.svc.Recheck(ctx, "changed")
	if err != nil || !slices.Equal(ended, []string{"gone"}) {
		t.Fatalf("with standing access: %v, %v", ended, err)
	}
	standing = false
	if ended, err = r.svc.Recheck(ctx, "changed"); err != nil || !slices.Equal(ended, []string{"tech"}) {
		t.Fatalf("without standing access: %v, %v", ended, err)
	}
}

// TestResetMFARemovesPasskeys: a user with passkeys and no TOTP can be
// reset (a lost security key), which removes every passkey and ends their
// sessions; deleting a user removes passkeys and IdP links too.
func TestResetMFARemovesPasskeys(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, id := range []string{"k1", "k2"} {
		if err := r.st.CreateWebAuthnCredential(ctx, store.WebAuthnCredential{ID: id + "-tom", UserID: "tom", Name: id, PublicKey: []byte{1},
			AAGUID: []byte{}, CreatedAt: r.clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.st.CreateWebAuthnCredential(ctx, store.WebAuthnCredential{ID: "k-bob", UserID: "bob", Name: "k", PublicKey: []byte{1},
		AAGUID: []byte{}, CreatedAt: r.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.LinkIdentity(ctx, store.OIDCIdentity{Issuer: "https://idp", Subject: "s-bob", UserID: "bob", Provider: "idp", CreatedAt: r.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	r.login("tom")
	res, err := r.svc.ResetMFA(ctx, admin, "tom")
	if err != nil {
		t.Fatal(err)
	}
	if res.Cascade.PortalSessions != 1 {
		t.Fatalf("cascade %+v", res.Cascade)
	}
	if left, _ := r.st.UserWebAuthnCredentials(ctx, "tom"); len(left) != 0 {
		t.Fatalf("passkeys left: %v", left)
	}
	if got := r.audit.events[len(r.audit.events)-1]; got.Action != "mfa.reset" || got.Details["passkeys_removed"] != 2 || got.Details["totp"] != false {
		t.Fatalf("mfa.reset details %v", got.Details)
	}
	if _, err := r.svc.ResetMFA(ctx, admin, "tom"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("second reset: %v", err)
	}
	if _, err := r.svc.Delete(ctx, admin, "bob"); err != nil {
		t.Fatal(err)
	}
	if left, _ := r.st.UserWebAuthnCredentials(ctx, "bob"); len(left) != 0 {
		t.Fatalf("passkeys of a deleted user: %v", left)
	}
	if _, err := r.st.Identity(ctx, "https://idp", "s-bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("identity of a deleted user: %v", err)
	}
}
