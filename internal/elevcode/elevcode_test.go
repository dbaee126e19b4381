package elevcode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	testSecret = bytes.Repeat([]byte{0x5a}, 32)
	// t0 is on a 10-minute step, so windows are easy to reason about.
	t0 = time.Date(2026, 3, 14, 9, 20, 0, 0, time.UTC)
)

func mustIssue(t testing.TB, c Claims) string {
	t.Helper()
	code, err := Issue(testSecret, c)
	if err != nil {
		t.Fatalf("Issue(%+v): %v", c, err)
	}
	return code
}

func TestIssueFormat(t *testing.T) {
	code := mustIssue(t, Claims{DeviceID: "dev-1", User: "alice", Duration: 30 * time.Minute, IssuedAt: t0, Nonce: 7})
	if len(code) != Length+2 || code[4] != '-' || code[9] != '-' {
		t.Fatalf("code %q is not XXXX-XXXX-XXXX", code)
	}
	for _, r := range strings.ReplaceAll(code, "-", "") {
		if strings.ContainsRune("ILOU", r) || !strings.ContainsRune(alphabet, r) {
			t.Fatalf("code %q has ambiguous or foreign character %q", code, r)
		}
	}
	again := mustIssue(t, Claims{DeviceID: "dev-1", User: "alice", Duration: 30 * time.Minute, IssuedAt: t0.Add(9 * time.Minute), Nonce: 7})
	if again != code {
		t.Errorf("same claims in the same 10-minute step: %q then %q", code, again)
	}
	other := mustIssue(t, Claims{DeviceID: "dev-1", User: "alice", Duration: 30 * time.Minute, IssuedAt: t0, Nonce: 8})
	if other == code {
		t.Errorf("different nonce gave the same code %q", code)
	}
}

func TestVerify(t *testing.T) {
	bound := Claims{DeviceID: "dev-1", User: "alice", Duration: 45 * time.Minute, IssuedAt: t0.Add(3 * time.Minute), Nonce: 300}
	anyUser := Claims{DeviceID: "dev-1", Duration: MaxDuration, IssuedAt: t0, Nonce: MaxNonce}
	boundCode := mustIssue(t, bound)
	anyCode := mustIssue(t, anyUser)
	// A tampered digit: change the 6th character to another valid one.
	tampered := []byte(boundCode)
	tampered[6] = alphabet[(strings.IndexByte(alphabet, tampered[6])+1)%32]

	tests := []struct {
		name    string
		secret  []byte
		device  string
		user    string
		code    string
		now     time.Time
		window  time.Duration
		want    error
		wantDur time.Duration
	}{
		{name: "valid", device: "dev-1", user: "alice", code: boundCode, now: t0.Add(20 * time.Minute), wantDur: 45 * time.Minute},
		{name: "valid typed sloppily", device: "dev-1", user: "alice", code: " " + strings.ToLower(strings.ReplaceAll(boundCode, "-", " ")) + " ", now: t0, wantDur: 45 * time.Minute},
		{name: "any user code for bob", device: "dev-1", user: "bob", code: anyCode, now: t0.Add(time.Hour), wantDur: MaxDuration},
		{name: "wrong device", device: "dev-2", user: "alice", code: boundCode, now: t0, want: ErrBadCode},
		{name: "wrong user", device: "dev-1", user: "bob", code: boundCode, now: t0, want: ErrBadCode},
		{name: "no user for bound code", device: "dev-1", user: "", code: boundCode, now: t0, want: ErrBadCode},
		{name: "wrong secret", secret: bytes.Repeat([]byte{1}, 32), device: "dev-1", user: "alice", code: boundCode, now: t0, want: ErrBadCode},
		{name: "tampered digit", device: "dev-1", user: "alice", code: string(tampered), now: t0, want: ErrBadCode},
		{name: "last accepted second", device: "dev-1", user: "alice", code: boundCode, now: t0.Add(WindowUnit + time.Hour + ClockSkew - time.Second), wantDur: 45 * time.Minute},
		{name: "expired window", device: "dev-1", user: "alice", code: boundCode, now: t0.Add(WindowUnit + time.Hour + ClockSkew), want: ErrExpired},
		{name: "expired short window", device: "dev-1", user: "alice", code: boundCode, now: t0.Add(30 * time.Minute), window: 15 * time.Minute, want: ErrExpired},
		{name: "window capped", device: "dev-1", user: "alice", code: boundCode, now: t0.Add(MaxWindow + time.Hour), window: 30 * 24 * time.Hour, want: ErrExpired},
		{name: "clock behind within skew", device: "dev-1", user: "alice", code: boundCode, now: t0.Add(-ClockSkew), wantDur: 45 * time.Minute},
		{name: "issued in the future", device: "dev-1", user: "alice", code: boundCode, now: t0.Add(-ClockSkew - time.Second), want: ErrExpired},
		{name: "days old", device: "dev-1", user: "alice", code: boundCode, now: t0.Add(6 * 24 * time.Hour), want: ErrExpired},
		{name: "clock before epoch", device: "dev-1", user: "alice", code: boundCode, now: time.Unix(0, 0), want: ErrExpired},
		{name: "malformed short", device: "dev-1", user: "alice", code: boundCode[:10], now: t0, want: ErrMalformed},
		{name: "malformed char U", device: "dev-1", user: "alice", code: "U" + boundCode[1:], now: t0, want: ErrMalformed},
		{name: "empty", device: "dev-1", user: "alice", code: "", now: t0, want: ErrMalformed},
		{name: "short secret", secret: []byte("short"), device: "dev-1", user: "alice", code: boundCode, now: t0, want: ErrSecret},
		{name: "empty device", device: "", user: "alice", code: boundCode, now: t0, want: ErrBadCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := tt.secret
			if secret == nil {
				secret = testSecret
			}
			g, err := Verify(secret, tt.device, tt.user, tt.code, tt.now, tt.window)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("Verify = %+v, %v; want %v", g, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if g.Duration != tt.wantDur || g.DeviceID != tt.device {
				t.Errorf("grant %+v, want duration %s device %s", g, tt.wantDur, tt.device)
			}
		})
	}
}

func TestVerifyGrant(t *testing.T) {
	code := mustIssue(t, Claims{DeviceID: "dev-1", User: "alice", Duration: 30 * time.Minute, IssuedAt: t0.Add(7 * time.Minute), Nonce: 42})
	g, err := Verify(testSecret, "dev-1", "alice", code, t0.Add(10*time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Grant{
		DeviceID: "dev-1", User: "alice", Duration: 30 * time.Minute, Nonce: 42,
		IssuedAt:   t0,
		ValidUntil: t0.Add(WindowUnit + DefaultWindow + ClockSkew),
		Key:        fmt.Sprintf("%d-%s", windowIndex(t0), strings.ReplaceAll(code, "-", "")),
	}
	if d := cmp.Diff(want, g); d != "" {
		t.Errorf("grant (-want +got):\n%s", d)
	}
}

// TestWindowWrap issues codes around the 14-day wrap of the 11-bit window
// and verifies them on both sides of it.
func TestWindowWrap(t *testing.T) {
	epoch := time.Unix(epochUnix, 0).UTC()
	for _, step := range []int64{2046, 2047, 2048, 2049, 5*2048 - 1, 5 * 2048} {
		issued := epoch.Add(time.Duration(step) * WindowUnit)
		code := mustIssue(t, Claims{DeviceID: "d", User: "u", Duration: DurationUnit, IssuedAt: issued})
		for _, off := range []time.Duration{-ClockSkew, 0, 9 * time.Minute, 40 * time.Minute, WindowUnit + DefaultWindow + ClockSkew - time.Second} {
			g, err := Verify(testSecret, "d", "u", code, issued.Add(off), 0)
			if err != nil || !g.IssuedAt.Equal(issued) {
				t.Errorf("step %d offset %s: %+v %v", step, off, g, err)
			}
		}
	}
}

func TestIssueClaims(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		c      Claims
		want   error
	}{
		{"ok max", testSecret, Claims{DeviceID: "d", Duration: MaxDuration, IssuedAt: t0, Nonce: MaxNonce}, nil},
		{"no device", testSecret, Claims{Duration: time.Hour, IssuedAt: t0}, ErrClaims},
		{"long user", testSecret, Claims{DeviceID: "d", User: strings.Repeat("u", MaxIDLen+1), Duration: time.Hour, IssuedAt: t0}, ErrClaims},
		{"zero duration", testSecret, Claims{DeviceID: "d", IssuedAt: t0}, ErrClaims},
		{"odd duration", testSecret, Claims{DeviceID: "d", Duration: 7 * time.Minute, IssuedAt: t0}, ErrClaims},
		{"too long", testSecret, Claims{DeviceID: "d", Duration: MaxDuration + DurationUnit, IssuedAt: t0}, ErrClaims},
		{"nonce", testSecret, Claims{DeviceID: "d", Duration: time.Hour, IssuedAt: t0, Nonce: MaxNonce + 1}, ErrClaims},
		{"before epoch", testSecret, Claims{DeviceID: "d", Duration: time.Hour, IssuedAt: time.Unix(epochUnix-1, 0)}, ErrClaims},
		{"short secret", make([]byte, MinSecretLen-1), Claims{DeviceID: "d", Duration: time.Hour, IssuedAt: t0}, ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Issue(tt.secret, tt.c)
			if !errors.Is(err, tt.want) {
				t.Errorf("Issue = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	want := Code{WindowLow: 1234, DurationUnits: 6, AnyUser: true, Nonce: 499, Tag: 0xdeadbeef}
	s := want.String()
	variants := []string{
		s,
		strings.ToLower(s),
		strings.ReplaceAll(s, "-", ""),
		strings.ReplaceAll(s, "-", " "),
		"  " + s[:4] + " _ " + s[5:] + "\t",
		strings.NewReplacer("0", "o", "1", "l").Replace(s),
		strings.NewReplacer("0", "O", "1", "I").Replace(s),
	}
	for _, v := range variants {
		got, err := Parse(v)
		if err != nil {
			t.Errorf("Parse(%q): %v", v, err)
			continue
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", v, d)
		}
	}
	for _, bad := range []string{"", "ABC", s + "0", s[:13], "ABCD-EFGH-JKU0", "ABCD-EFGH-JK*0", strings.Repeat(" ", 100), "ÀBCD-EFGH-JKM0"} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

// TestBoundToDeviceAndUser is the property: a code issued for one device
// and user never verifies for another device or another user.
func TestBoundToDeviceAndUser(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	name := func() string {
		const chars = "abcdefghijklmnopqrstuvwxyz0123456789-._"
		b := make([]byte, 1+r.IntN(12))
		for i := range b {
			b[i] = chars[r.IntN(len(chars))]
		}
		return string(b)
	}
	for i := 0; i < 3000; i++ {
		secret := make([]byte, 32)
		for j := range secret {
			secret[j] = byte(r.Uint32())
		}
		c := Claims{DeviceID: name(), User: name(), Duration: time.Duration(1+r.IntN(128)) * DurationUnit, IssuedAt: t0.Add(time.Duration(r.IntN(1e6)) * time.Second), Nonce: uint32(r.IntN(MaxNonce + 1))}
		code, err := Issue(secret, c)
		if err != nil {
			t.Fatal(err)
		}
		now := c.IssuedAt.Add(time.Minute)
		if _, err := Verify(secret, c.DeviceID, c.User, code, now, 0); err != nil {
			t.Fatalf("own code %q for %+v: %v", code, c, err)
		}
		otherDev, otherUser := name(), name()
		if otherDev != c.DeviceID {
			if _, err := Verify(secret, otherDev, c.User, code, now, 0); !errors.Is(err, ErrBadCode) {
				t.Fatalf("code for device %q verified for %q: %v", c.DeviceID, otherDev, err)
			}
		}
		if otherUser != c.User {
			if _, err := Verify(secret, c.DeviceID, otherUser, code, now, 0); !errors.Is(err, ErrBadCode) {
				t.Fatalf("code for user %q verified for %q: %v", c.User, otherUser, err)
			}
		}
	}
}

func TestUsedSet(t *testing.T) {
	code := mustIssue(t, Claims{DeviceID: "d", User: "u", Duration: time.Hour, IssuedAt: t0})
	other := mustIssue(t, Claims{DeviceID: "d", User: "u", Duration: time.Hour, IssuedAt: t0, Nonce: 1})
	g, err := Verify(testSecret, "d", "u", code, t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := Verify(testSecret, "d", "u", other, t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var s UsedSet
	if err := s.Redeem(g); err != nil {
		t.Fatalf("first redeem: %v", err)
	}
	if err := s.Redeem(g); !errors.Is(err, ErrUsed) {
		t.Fatalf("second redeem = %v, want ErrUsed", err)
	}
	if err := s.Redeem(g2); err != nil {
		t.Fatalf("other code: %v", err)
	}
	// Survives a JSON round trip, as the agent stores it.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back UsedSet
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Redeem(g); !errors.Is(err, ErrUsed) {
		t.Fatalf("redeem after reload = %v, want ErrUsed", err)
	}
	if n := back.Prune(g.ValidUntil.Add(-time.Second)); n != 0 || back.Len() != 2 {
		t.Errorf("early prune dropped %d, len %d", n, back.Len())
	}
	if n := back.Prune(g.ValidUntil); n != 2 || back.Len() != 0 {
		t.Errorf("prune at ValidUntil dropped %d, len %d", n, back.Len())
	}
	// Once pruned, Verify refuses the code as expired anyway.
	if _, err := Verify(testSecret, "d", "u", code, g.ValidUntil, 0); !errors.Is(err, ErrExpired) {
		t.Errorf("verify at ValidUntil = %v, want ErrExpired", err)
	}
	if err := back.UnmarshalJSON([]byte("[1]")); err == nil {
		t.Error("UnmarshalJSON accepted an array")
	}
}
