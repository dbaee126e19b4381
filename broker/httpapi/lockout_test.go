package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"porthole/broker/audit"
	"porthole/broker/auth"
	"porthole/broker/devicekey"
	"porthole/broker/mfa"
	"porthole/broker/secretbox"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

// newLoginAPI is an API with what the login routes need: a real store,
// audit log and authenticator on a frozen clock, and the limiters of m
// (defaults where nil). It has one user, tina, password "pw".
func newLoginAPI(t *testing.T, m *MFA) (*API, *clocktest.Fake) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	h, err := auth.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "u-tina", Username: "tina", PasswordHash: h, Role: "technician", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	log := audit.New(st, clk)
	return New(Config{Store: st, Auth: auth.New(st, auth.Config{Clock: clk, Hashing: auth.HashLimits{Wait: 10 * time.Minute}}),
		Audit: log, MFA: m, Clock: clk, DeviceKeys: devicekey.New(devicekey.Config{Store: st, Box: box, Audit: log, Clock: clk})}), clk
}

// login posts a password login from addr and returns the status.
func login(a *API, addr, user, pw string) int {
	r := httptest.NewRequest("POST", "/api/login", strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw)))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	return w.Code
}

// flood counts one failed attempt for each of n made-up names, each from
// its own address, through the login's own first half (Lookup, the charge,
// the reservation) — what n wrong logins do to the limiters, without the
// n argon2 hashes, which decide nothing here.
func flood(t *testing.T, a *API, n int) {
	t.Helper()
	ctx := context.Background()
	now := a.cfg.Clock.Now()
	for i := range n {
		look, err := a.cfg.Auth.Lookup(ctx, fmt.Sprintf("made-up-%d", i))
		if err != nil || look.Exists {
			t.Fatalf("lookup: %+v %v", look, err)
		}
		r := httptest.NewRequest("POST", "/api/login", nil)
		r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:40000", i>>16&255, i>>8&255, i&255)
		ch, err := a.loginCharge(ctx, r, look, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, wait := a.reserve(ctx, now, ch, a.addrCharge(r, "")); wait > 0 {
			t.Fatalf("made-up name %d refused: %v", i, wait)
		}
	}
}

// TestUnknownNamesCannotEvictAccounts: 10,000 made-up usernames do not
// evict a real account's count: the account stays locked and the unknown
// names' limiter stays within its bound. With one limiter for both, as
// before, the same flood unlocks the account.
func TestUnknownNamesCannotEvictAccounts(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mfa        func() *MFA
		wantLocked bool
	}{
		{"separate limiters", func() *MFA { return nil }, true},
		{"one shared limiter (the old wiring)", func() *MFA {
			shared := mfa.NewLimiter(mfa.LimiterConfig{})
			return &MFA{Accounts: shared, Unknown: shared}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newLoginAPI(t, tc.mfa())
			for i := range 6 { // 5 free, the 6th locks for a second (the clock stands still)
				if st := login(a, fmt.Sprintf("192.0.2.%d", i+1), "tina", "wrong"); st != http.StatusUnauthorized {
					t.Fatalf("wrong password %d: %d", i+1, st)
				}
			}
			if st := login(a, "192.0.2.100", "tina", "pw"); st != http.StatusTooManyRequests {
				t.Fatalf("locked tina with the right password: %d, want 429", st)
			}
			flood(t, a, 10000)
			st := login(a, "192.0.2.101", "tina", "pw")
			if locked := st == http.StatusTooManyRequests; locked != tc.wantLocked {
				t.Fatalf("tina after 10,000 made-up names: %d (locked %v, want %v)", st, locked, tc.wantLocked)
			}
			if n := a.cfg.MFA.Unknown.Len(); n > 10000 {
				t.Fatalf("unknown names held: %d, over the bound", n)
			}
		})
	}
}

// enroll posts an agent enrollment with token from addr and returns the
// status.
func enroll(a *API, addr, token string, key byte) int {
	pub := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{key}, 32))
	r := httptest.NewRequest("POST", "/api/agent/enroll", strings.NewReader(
		fmt.Sprintf(`{"token":%q,"public_key":%q,"inventory":{"hostname":"pc%d","os":"linux"}}`, token, pub, key)))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	return w.Code
}

// TestEnrollmentGuessesLimited: enrollment tokens guessed all at once from
// one address are counted as they arrive (10 free, then a delay), on a
// counter of their own; valid enrollments count nothing, and an address's
// token guesses do not slow its logins.
func TestEnrollmentGuessesLimited(t *testing.T) {
	a, clk := newLoginAPI(t, nil)
	ctx := context.Background()
	const secret = "phe_right"
	if err := a.cfg.Store.CreateEnrollToken(ctx, store.EnrollToken{ID: "t1", Hash: auth.TokenHash(secret), CreatedBy: "admin",
		CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour), MaxUses: 100}); err != nil {
		t.Fatal(err)
	}
	codes := make(chan int, 16)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() { defer wg.Done(); codes <- enroll(a, "198.51.100.1", fmt.Sprintf("phe_guess%d", i), byte(i)) }()
	}
	wg.Wait()
	close(codes)
	got := map[int]int{}
	for c := range codes {
		got[c]++
	}
	if fmt.Sprint(got) != fmt.Sprint(map[int]int{403: 11, 429: 5}) {
		t.Fatalf("16 wrong tokens at once: %v, want 11 refused as unknown and 5 as too many", got)
	}
	if st := login(a, "198.51.100.1", "tina", "pw"); st != http.StatusOK {
		t.Fatalf("login from the guessing address: %d, want 200", st)
	}
	for i := range 12 { // a deployment: many good enrollments from one address
		if st := enroll(a, "198.51.100.2", secret, byte(100+i)); st != http.StatusCreated {
			t.Fatalf("good enrollment %d: %d", i, st)
		}
	}
	if n := a.cfg.MFA.Addrs.Failures("enroll:ip:198.51.100.2", clk.Now()); n != 0 {
		t.Fatalf("good enrollments counted %d failures", n)
	}
}
