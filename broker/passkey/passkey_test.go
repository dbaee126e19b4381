package passkey

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

// TestRelyingParty: the relying party comes from the public URL; an IP
// address (which browsers refuse as an RP id) turns passkeys off.
func TestRelyingParty(t *testing.T) {
	for _, tc := range []struct {
		url     string
		enabled bool
		origin  string
	}{
		{"http://localhost:8443", true, "http://localhost:8443"},
		{"https://porthole.example.com/", true, "https://porthole.example.com"},
		{"http://127.0.0.1:8443", false, ""},
		{"https://[::1]:8443", false, ""},
	} {
		s, err := New(Config{PublicURL: tc.url})
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if s.Enabled() != tc.enabled {
			t.Fatalf("%s: enabled %v", tc.url, s.Enabled())
		}
		if !tc.enabled {
			if _, _, err := s.BeginLogin(); !errors.Is(err, ErrDisabled) {
				t.Fatalf("%s: %v", tc.url, err)
			}
			continue
		}
		if got := s.wa.Config.RPOrigins[0]; got != tc.origin {
			t.Fatalf("%s: origin %s", tc.url, got)
		}
	}
	if _, err := New(Config{PublicURL: "not a url"}); err == nil {
		t.Fatal("accepted a public URL without a host")
	}
}

// TestCeremonies: a ceremony serves one finish, of its kind, on the
// session that began it, before it expires.
func TestCeremonies(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clocktest.New(time.Unix(1700000000, 0))
	u := store.User{ID: "u1", Username: "ann", Role: "technician", PasswordHash: "x", CreatedAt: clk.Now()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{PublicURL: "http://localhost:8443", Store: st, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	opts, id, err := s.BeginRegistration(ctx, u, "sess-1")
	if err != nil || opts.Response.RelyingParty.ID != "localhost" || opts.Response.User.Name != "ann" {
		t.Fatalf("begin: %+v %v", opts, err)
	}
	if opts.Response.AuthenticatorSelection.UserVerification != "required" || opts.Response.AuthenticatorSelection.ResidentKey != "required" {
		t.Fatalf("selection %+v", opts.Response.AuthenticatorSelection)
	}
	// Another session cannot finish it, and then it is gone.
	if _, err := s.FinishRegistration(ctx, u, "sess-2", id, "k", []byte(`{}`)); !errors.Is(err, ErrNoCeremony) {
		t.Fatalf("other session: %v", err)
	}
	if _, err := s.FinishRegistration(ctx, u, "sess-1", id, "k", []byte(`{}`)); !errors.Is(err, ErrNoCeremony) {
		t.Fatalf("used ceremony: %v", err)
	}
	// A login ceremony is not a verify one, and it expires.
	_, lid, err := s.BeginLogin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishVerify(ctx, u, "", lid, []byte(`{}`)); !errors.Is(err, ErrNoCeremony) {
		t.Fatalf("wrong kind: %v", err)
	}
	_, lid, _ = s.BeginLogin()
	clk.Advance(CeremonyTTL)
	if _, err := s.FinishLogin(ctx, lid, []byte(`{}`)); !errors.Is(err, ErrNoCeremony) {
		t.Fatalf("expired: %v", err)
	}
	// No passkeys: nothing to verify.
	if _, _, err := s.BeginVerify(ctx, u, "sess-1"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("verify without passkeys: %v", err)
	}
}

// TestSignCountGuard: the store refuses a sign count that does not grow.
func TestSignCountGuard(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateUser(ctx, store.User{ID: "u1", Username: "ann", Role: "technician", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []store.WebAuthnCredential{{ID: "c", UserID: "u1", Name: "k", PublicKey: []byte{1}, AAGUID: []byte{}, SignCount: 5},
		{ID: "z", UserID: "u1", Name: "z", PublicKey: []byte{1}, AAGUID: []byte{}}} {
		if err := st.CreateWebAuthnCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		id    string
		count uint32
		ok    bool
	}{{"c", 6, true}, {"c", 6, false}, {"c", 3, false}, {"c", 0, false}, {"z", 0, true}, {"z", 0, true}, {"z", 1, true}, {"z", 0, false}} {
		err := st.UseWebAuthnCredential(ctx, tc.id, tc.count, now)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, store.ErrConflict)) {
			t.Fatalf("%s count %d: %v, want ok=%v", tc.id, tc.count, err, tc.ok)
		}
	}
}
