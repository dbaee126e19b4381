package auth

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct hors", false}, {"", false}} {
		got, err := CheckPassword(h, tc.pw)
		if err != nil || got != tc.want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", tc.pw, got, err, tc.want)
		}
	}
	if _, err := CheckPassword("$2a$10$bcrypt", "x"); err == nil {
		t.Error("foreign hash accepted")
	}
}

func TestRoles(t *testing.T) {
	tests := []struct {
		role Role
		perm Permission
		want bool
	}{
		{Admin, Enroll, true},
		{Technician, ConnectDevice, true},
		{Technician, Enroll, false},
		{Auditor, ViewAudit, true},
		{Auditor, ConnectDevice, false},
		{Approver, ViewDevices, true},
		{Approver, ConnectDevice, false},
		{Approver, ViewAudit, false},
		{Admin, ViewRecordings, true},
		{Auditor, ViewRecordings, true},
		{Technician, ViewRecordings, false},
		{Approver, ViewRecordings, false},
		{Role("root"), ViewDevices, false},
	}
	for _, tc := range tests {
		if got := tc.role.Can(tc.perm); got != tc.want {
			t.Errorf("%s.Can(%s) = %v", tc.role, tc.perm, got)
		}
	}
}

func newAuth(t *testing.T) (*Authenticator, *store.Store, *clocktest.Fake) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clocktest.New(time.Unix(1700000000, 0))
	h, _ := HashPassword("pw")
	if err := st.CreateUser(context.Background(), store.User{ID: "u1", Username: "ann", PasswordHash: h, Role: "admin", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	return New(st, Config{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour, Clock: clk}), st, clk
}

func TestLoginAndTimeouts(t *testing.T) {
	ctx := context.Background()
	a, _, clk := newAuth(t)
	for _, tc := range []struct{ user, pw string }{{"ann", "nope"}, {"bob", "pw"}} {
		if _, err := a.Password(ctx, tc.user, tc.pw); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Password(%s,%s) = %v, want ErrBadCredentials", tc.user, tc.pw, err)
		}
	}
	u, err := a.Password(ctx, "ann", "pw")
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := a.StartSession(ctx, u)
	s2, _ := a.StartSession(ctx, u)
	if s1 == s2 {
		t.Fatal("session ids repeat")
	}
	p, err := a.Session(ctx, s1)
	if err != nil || p.Username != "ann" || p.Role != Admin {
		t.Fatalf("Session = %+v, %v", p, err)
	}
	// Idle timeout: activity keeps it alive, silence ends it.
	clk.Advance(9 * time.Minute)
	if _, err := a.Session(ctx, s1); err != nil {
		t.Fatalf("active session ended: %v", err)
	}
	clk.Advance(11 * time.Minute)
	if _, err := a.Session(ctx, s2); !errors.Is(err, ErrExpired) {
		t.Fatalf("idle session: %v, want ErrExpired", err)
	}
	// Absolute timeout ends even an active session.
	for range 6 {
		clk.Advance(9 * time.Minute)
		if _, err = a.Session(ctx, s1); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("session past absolute timeout: %v", err)
	}
	// Logout is server-side.
	s3, _ := a.StartSession(ctx, u)
	p, _ = a.Session(ctx, s3)
	if err := a.EndSession(ctx, p.SessionHash); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Session(ctx, s3); !errors.Is(err, ErrNoSession) {
		t.Fatalf("logged-out session: %v", err)
	}
}

func TestAPIToken(t *testing.T) {
	ctx := context.Background()
	a, _, clk := newAuth(t)
	u, _ := a.Password(ctx, "ann", "pw")
	tok, _, err := a.IssueToken(ctx, u, TokenSpec{Name: "cli", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := a.Token(ctx, tok, "127.0.0.1"); err != nil || p.Username != "ann" {
		t.Fatalf("Token = %+v, %v", p, err)
	}
	if _, err := a.Token(ctx, tok+"x", "127.0.0.1"); err == nil {
		t.Fatal("wrong token accepted")
	}
	clk.Advance(2 * time.Hour)
	if _, err := a.Token(ctx, tok, "127.0.0.1"); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired token: %v", err)
	}
}

// TestPendingSessionAndMFA: a pending session is marked and short-lived;
// CompleteMFA replaces it with a new id; StepUp records the verification;
// EndUserSessions logs the user out everywhere.
func TestPendingSessionAndMFA(t *testing.T) {
	ctx := context.Background()
	a, _, clk := newAuth(t)
	u, _ := a.Password(ctx, "ann", "pw")
	pend, err := a.StartPendingSession(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Session(ctx, pend)
	if err != nil || !p.MFAPending || !p.MFAAt.IsZero() {
		t.Fatalf("pending session = %+v, %v", p, err)
	}
	full, err := a.CompleteMFA(ctx, p.SessionHash, u.ID, clk.Now())
	if err != nil || full == pend {
		t.Fatalf("CompleteMFA = %q, %v", full, err)
	}
	if _, err := a.Session(ctx, pend); !errors.Is(err, ErrNoSession) {
		t.Fatalf("old id still valid: %v", err)
	}
	f, err := a.Session(ctx, full)
	if err != nil || f.MFAPending || !f.MFAAt.Equal(clk.Now()) {
		t.Fatalf("full session = %+v, %v", f, err)
	}
	clk.Advance(5 * time.Minute)
	if err := a.StepUp(ctx, f.SessionHash); err != nil {
		t.Fatal(err)
	}
	if f, _ = a.Session(ctx, full); !f.MFAAt.Equal(clk.Now()) {
		t.Fatalf("step-up not recorded: %v", f.MFAAt)
	}
	// A pending session ends after PendingTimeout (10m) even when active.
	pend2, _ := a.StartPendingSession(ctx, u)
	clk.Advance(6 * time.Minute)
	if _, err := a.Session(ctx, pend2); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Minute)
	if _, err := a.Session(ctx, pend2); !errors.Is(err, ErrExpired) {
		t.Fatalf("pending session past 10m: %v", err)
	}
	if n, err := a.EndUserSessions(ctx, u.ID); err != nil || n != 1 {
		t.Fatalf("EndUserSessions = %d, %v", n, err)
	}
	if _, err := a.Session(ctx, full); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session survived EndUserSessions: %v", err)
	}
}

// TestNewIDNeverLooksLikeAFlag draws enough ids that about 300 would begin
// with "-" or "_" if NewID did not skip them.
func TestNewIDNeverLooksLikeAFlag(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := NewID()
		if len(id) != 16 || id[0] == '-' || id[0] == '_' {
			t.Fatalf("id %q", id)
		}
		if seen[id] {
			t.Fatalf("id %q drawn twice", id)
		}
		seen[id] = true
	}
}

// TestScopedTokenPrincipal: an API token resolves to its owner's current
// role and bindings cut by its scopes and the access.standing policy; each
// use is noted (at most once a minute, or from a new address); a revoked
// token is refused at once.
func TestScopedTokenPrincipal(t *testing.T) {
	ctx := context.Background()
	a, st, clk := newAuth(t)
	standing := true
	a.cfg.Standing = func(context.Context) (bool, error) { return standing, nil }
	if err := st.CreateGroup(ctx, store.Group{ID: "gA", Name: "A", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	h, _ := HashPassword("pw")
	tech := store.User{ID: "u2", Username: "tom", PasswordHash: h, Role: "technician", CreatedAt: clk.Now(), GroupBound: true}
	if err := st.CreateUserIn(ctx, tech, []string{"gA"}); err != nil {
		t.Fatal(err)
	}
	scopes, _ := ParseScopes([]string{"devices:read,sessions:*"})
	secret, tok, err := a.IssueToken(ctx, tech, TokenSpec{Kind: store.TokenAPI, Scopes: scopes, Note: "n", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Token(ctx, secret, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if p.TokenID != tok.ID || !slices.Equal(p.Scopes, scopes) || !p.GroupBound || !slices.Equal(p.Groups, []string{"gA"}) || p.NoStanding {
		t.Fatalf("principal %+v", p)
	}
	if !p.CanOn(ConnectDevice, "gA") || p.CanOn(ConnectDevice, "gB") || p.CanOn(BreakGlass, "gA") {
		t.Fatalf("rights of %+v", p)
	}
	got, _ := st.APITokenByID(ctx, tok.ID)
	if got.LastUsedIP != "10.0.0.1" || !got.LastUsedAt.Equal(clk.Now()) {
		t.Fatalf("last use %+v", got)
	}
	clk.Advance(10 * time.Second)
	_, _ = a.Token(ctx, secret, "10.0.0.1")
	if got, _ = st.APITokenByID(ctx, tok.ID); !got.LastUsedAt.Equal(clk.Now().Add(-10 * time.Second)) {
		t.Fatalf("use within a minute written: %v", got.LastUsedAt)
	}
	_, _ = a.Token(ctx, secret, "10.0.0.2")
	if got, _ = st.APITokenByID(ctx, tok.ID); got.LastUsedIP != "10.0.0.2" {
		t.Fatalf("a use from a new address not written: %+v", got)
	}
	standing = false
	if p, _ = a.Token(ctx, secret, "10.0.0.2"); !p.NoStanding || p.CanOn(ConnectDevice, "gA") {
		t.Fatalf("under access.standing none: %+v", p)
	}
	if err := a.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Token(ctx, secret, "10.0.0.2"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("revoked token: %v", err)
	}
	if err := a.RevokeToken(ctx, "nosuch"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if _, _, err := a.IssueToken(ctx, tech, TokenSpec{Kind: store.TokenAPI, TTL: time.Hour}); !errors.Is(err, ErrBadScope) {
		t.Fatalf("API token without scopes: %v", err)
	}
}
