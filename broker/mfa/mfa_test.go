package mfa_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"image/png"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"porthole/broker/mfa"
	"porthole/broker/mfa/mfatest"
	"porthole/broker/secretbox"
)

// t0 is the middle of a time step, so ±n steps are exactly ±n×30 s.
var t0 = time.Unix(1700000010+15, 0).UTC()

type fixture struct {
	m     *mfa.Manager
	store *mfatest.Memory
	box   *secretbox.Box
	logs  *bytes.Buffer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{0x42}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: &mfatest.Memory{}, box: box, logs: &bytes.Buffer{}}
	f.m, err = mfa.New(mfa.Config{Store: f.store, Box: box, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func code(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enroll confirms a TOTP enrollment for userID at the given time and
// returns the secret and recovery codes.
func (f *fixture) enroll(t testing.TB, userID string, at time.Time) (string, []string) {
	t.Helper()
	p, err := f.m.Enroll(userID, userID+"@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := f.m.Confirm(context.Background(), userID, p, code(t, p.Secret, at), at)
	if err != nil {
		t.Fatal(err)
	}
	return p.Secret, rc
}

func TestNewRequiresStoreAndBox(t *testing.T) {
	if _, err := mfa.New(mfa.Config{Store: &mfatest.Memory{}}); !errors.Is(err, mfa.ErrConfig) {
		t.Fatalf("New without box = %v", err)
	}
	if _, err := mfa.New(mfa.Config{}); !errors.Is(err, mfa.ErrConfig) {
		t.Fatalf("New without store = %v", err)
	}
}

func TestEnroll(t *testing.T) {
	f := newFixture(t)
	p, err := f.m.Enroll("u1", "ann", "Acme Porthole")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(p.Secret)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret %q: %d bytes, %v", p.Secret, len(raw), err)
	}
	for _, want := range []string{"otpauth://totp/", "secret=" + p.Secret, "issuer=Acme", "period=30", "digits=6", "algorithm=SHA1"} {
		if !strings.Contains(p.URL, want) {
			t.Errorf("URL %q lacks %q", p.URL, want)
		}
	}
	img, err := png.Decode(bytes.NewReader(p.QRPNG))
	if err != nil {
		t.Fatalf("QR code is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != mfa.QRSize || b.Dy() != mfa.QRSize {
		t.Fatalf("QR code is %v", b)
	}
	if len(f.store.Dump()) != 0 {
		t.Fatal("Enroll stored something before confirmation")
	}
	p2, _ := f.m.Enroll("u1", "ann", "")
	if p2.Secret == p.Secret {
		t.Fatal("two enrollments share a secret")
	}
	if !strings.Contains(p2.URL, "issuer="+mfa.DefaultIssuer) {
		t.Fatalf("default issuer missing from %q", p2.URL)
	}
	if _, err := f.m.Enroll("u1", "", ""); err == nil {
		t.Fatal("Enroll without username succeeded")
	}
}

func TestConfirm(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p, _ := f.m.Enroll("u1", "ann", "")
	good := code(t, p.Secret, t0)
	wrong := code(t, p.Secret, t0.Add(5*time.Minute))

	tests := []struct {
		name   string
		userID string
		p      mfa.Pending
		code   string
		want   error
	}{
		{"wrong code", "u1", p, wrong, mfa.ErrInvalidCode},
		{"malformed code", "u1", p, "12a456", mfa.ErrInvalidCode},
		{"other user's pending", "u2", p, good, mfa.ErrInvalidPending},
		{"short secret", "u1", mfa.Pending{UserID: "u1", Secret: "JBSWY3DPEHPK3PXP"}, good, mfa.ErrInvalidPending},
		{"not base32", "u1", mfa.Pending{UserID: "u1", Secret: "not base32 at all!!!!!!!!!!!!!!!"}, good, mfa.ErrInvalidPending},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := f.m.Confirm(ctx, tc.userID, tc.p, tc.code, t0)
			if !errors.Is(err, tc.want) || rc != nil {
				t.Fatalf("Confirm = %v, %v; want %v", rc, err, tc.want)
			}
			if len(f.store.Dump()) != 0 {
				t.Fatal("a failed Confirm stored something")
			}
		})
	}

	rc, err := f.m.Confirm(ctx, "u1", p, good, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc) != mfa.RecoveryCodeCount {
		t.Fatalf("%d recovery codes", len(rc))
	}
	seen := map[string]bool{}
	for _, c := range rc {
		if canon, err := mfa.ParseRecoveryCode(c); err != nil || canon != c {
			t.Errorf("recovery code %q is not canonical: %q, %v", c, canon, err)
		}
		if seen[c] {
			t.Errorf("recovery code %q repeats", c)
		}
		seen[c] = true
	}
	// The confirming code's step is spent: it cannot also log in.
	if err := f.m.Verify(ctx, "u1", good, t0); !errors.Is(err, mfa.ErrReplayed) {
		t.Fatalf("Verify(confirming code) = %v, want ErrReplayed", err)
	}
	// A second enrollment over a confirmed one is refused.
	p2, _ := f.m.Enroll("u1", "ann", "")
	if _, err := f.m.Confirm(ctx, "u1", p2, code(t, p2.Secret, t0), t0); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
		t.Fatalf("second Confirm = %v, want ErrAlreadyEnrolled", err)
	}
	st, err := f.m.Status(ctx, "u1")
	if err != nil || !st.Enrolled || !st.EnrolledAt.Equal(t0) || st.RecoveryCodesLeft != 10 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
}

func TestNothingStoredInClear(t *testing.T) {
	f := newFixture(t)
	secret, rc := f.enroll(t, "u1", t0)
	raw, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	dump := f.store.Dump()
	if len(dump) == 0 {
		t.Fatal("store is empty")
	}
	needles := map[string][]byte{"base32 secret": []byte(secret), "lower-case secret": []byte(strings.ToLower(secret)), "raw secret": raw}
	for _, c := range rc {
		needles["recovery code "+c] = []byte(c)
		needles["recovery code without dash "+c] = []byte(strings.ReplaceAll(c, "-", ""))
	}
	for name, n := range needles {
		if bytes.Contains(dump, n) {
			t.Errorf("store holds the %s in clear", name)
		}
	}
	if n := bytes.Count(dump, []byte("$argon2id$")); n != mfa.RecoveryCodeCount {
		t.Errorf("store holds %d argon2id hashes, want %d", n, mfa.RecoveryCodeCount)
	}
	// Nor the logs.
	ctx := context.Background()
	_ = f.m.Verify(ctx, "u1", code(t, secret, t0.Add(time.Minute)), t0.Add(time.Minute))
	_ = f.m.UseRecoveryCode(ctx, "u1", rc[0], t0)
	for name, n := range needles {
		if bytes.Contains(f.logs.Bytes(), n) {
			t.Errorf("logs hold the %s", name)
		}
	}
	if !strings.Contains(f.logs.String(), "mfa_enrolled") {
		t.Errorf("no enrollment log line: %q", f.logs.String())
	}
}

func TestSealedSecretBoundToUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	secret, _ := f.enroll(t, "u1", t0)
	e, _, _ := f.store.TOTP(ctx, "u1")
	// Someone with write access to the database copies u1's sealed secret to u2.
	if ok, _ := f.store.InsertMFA(ctx, mfa.Enrollment{UserID: "u2", SealedSecret: e.SealedSecret, LastStep: 0}, nil); !ok {
		t.Fatal("InsertMFA u2")
	}
	at := t0.Add(time.Hour)
	if err := f.m.Verify(ctx, "u2", code(t, secret, at), at); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("Verify with a swapped secret = %v, want secretbox.ErrOpen", err)
	}
}

func TestVerifyWindow(t *testing.T) {
	const step = mfa.Period * time.Second
	f := newFixture(t)
	secret, _ := f.enroll(t, "u1", t0)
	tests := []struct {
		name   string
		offset time.Duration // the code's time relative to now
		code   string        // used instead of a generated code when set
		want   error
	}{
		{"current step", 0, "", nil},
		{"previous step (skew -1)", -step, "", nil},
		{"next step (skew +1)", step, "", nil},
		{"two steps back", -2 * step, "", mfa.ErrInvalidCode},
		{"two steps ahead", 2 * step, "", mfa.ErrInvalidCode},
		{"an hour back", -time.Hour, "", mfa.ErrInvalidCode},
		{"spaces and dash", 0, "spaced", nil},
		{"five digits", 0, "12345", mfa.ErrInvalidCode},
		{"seven digits", 0, "1234567", mfa.ErrInvalidCode},
		{"letters", 0, "abcdef", mfa.ErrInvalidCode},
		{"blank", 0, " ", mfa.ErrInvalidCode},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Each case an hour after the last, so earlier cases' steps
			// never make this one a replay.
			now := t0.Add(time.Duration(i+1) * time.Hour)
			c := tc.code
			switch c {
			case "":
				c = code(t, secret, now.Add(tc.offset))
			case "spaced":
				c = code(t, secret, now)
				c = " " + c[:3] + " - " + c[3:] + "\t"
			}
			if err := f.m.Verify(context.Background(), "u1", c, now); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyReplay(t *testing.T) {
	const step = mfa.Period * time.Second
	ctx := context.Background()
	f := newFixture(t)
	secret, _ := f.enroll(t, "u1", t0)
	now := t0.Add(time.Hour)
	c0 := code(t, secret, now)

	type attempt struct {
		name string
		at   time.Time
		code string
		want error
	}
	seq := []attempt{
		{"first use", now, c0, nil},
		{"same code, same step", now.Add(10 * time.Second), c0, mfa.ErrReplayed},
		{"same code, next step (still in skew window)", now.Add(step), c0, mfa.ErrReplayed},
		{"same code, after the skew window", now.Add(2 * step), c0, mfa.ErrInvalidCode},
		{"next step's code", now.Add(2 * step), code(t, secret, now.Add(2*step)), nil},
		{"a code one step ahead", now.Add(2 * step), code(t, secret, now.Add(3*step)), nil},
		{"then the current step's code is older than the last accepted", now.Add(2 * step), code(t, secret, now.Add(2*step)), mfa.ErrReplayed},
		{"the previous step's code too", now.Add(3 * step), code(t, secret, now.Add(2*step)), mfa.ErrReplayed},
		{"the step after the last accepted", now.Add(4 * step), code(t, secret, now.Add(4*step)), nil},
	}
	for _, a := range seq {
		if err := f.m.Verify(ctx, "u1", a.code, a.at); !errors.Is(err, a.want) {
			t.Fatalf("%s: Verify = %v, want %v", a.name, err, a.want)
		}
	}
	if err := f.m.Verify(ctx, "nobody", c0, now); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("Verify(unknown user) = %v, want ErrNotEnrolled", err)
	}
}

func TestVerifyConcurrentReplay(t *testing.T) {
	f := newFixture(t)
	secret, _ := f.enroll(t, "u1", t0)
	now := t0.Add(time.Hour)
	c := code(t, secret, now)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f.m.Verify(context.Background(), "u1", c, now) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, mfa.ErrReplayed):
			t.Errorf("concurrent Verify = %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one code accepted, want 1", ok, n)
	}
}

func TestRecoveryCodes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, rc := f.enroll(t, "u1", t0)
	_, other := f.enroll(t, "u2", t0)
	typed := strings.ToUpper(strings.ReplaceAll(rc[1], "-", " "))

	seq := []struct {
		name, user, code string
		want             error
	}{
		{"first code", "u1", rc[0], nil},
		{"first code again", "u1", rc[0], mfa.ErrInvalidCode},
		{"second code typed in upper case with a space", "u1", typed, nil},
		{"another user's code", "u1", other[0], mfa.ErrInvalidCode},
		{"malformed", "u1", "abc", mfa.ErrInvalidCode},
		{"a TOTP code", "u1", "123456", mfa.ErrInvalidCode},
		{"unenrolled user", "nobody", rc[2], mfa.ErrNotEnrolled},
		{"the other user's own code still works", "u2", other[0], nil},
	}
	for _, s := range seq {
		if err := f.m.UseRecoveryCode(ctx, s.user, s.code, t0); !errors.Is(err, s.want) {
			t.Fatalf("%s: UseRecoveryCode = %v, want %v", s.name, err, s.want)
		}
	}
	st, _ := f.m.Status(ctx, "u1")
	if st.RecoveryCodesLeft != mfa.RecoveryCodeCount-2 {
		t.Fatalf("%d codes left, want %d", st.RecoveryCodesLeft, mfa.RecoveryCodeCount-2)
	}

	fresh, err := f.m.RegenerateRecoveryCodes(ctx, "u1", t0)
	if err != nil || len(fresh) != mfa.RecoveryCodeCount {
		t.Fatalf("Regenerate = %d codes, %v", len(fresh), err)
	}
	if err := f.m.UseRecoveryCode(ctx, "u1", rc[5], t0); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("old code after regenerate = %v, want ErrInvalidCode", err)
	}
	if err := f.m.UseRecoveryCode(ctx, "u1", fresh[9], t0); err != nil {
		t.Fatalf("new code after regenerate = %v", err)
	}
	if _, err := f.m.RegenerateRecoveryCodes(ctx, "nobody", t0); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("Regenerate(unenrolled) = %v", err)
	}
}

func TestRecoveryCodeConcurrentUse(t *testing.T) {
	f := newFixture(t)
	_, rc := f.enroll(t, "u1", t0)
	const n = 3
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f.m.UseRecoveryCode(context.Background(), "u1", rc[3], t0) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, mfa.ErrInvalidCode):
			t.Errorf("concurrent UseRecoveryCode = %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one recovery code accepted, want 1", ok, n)
	}
}

func TestReset(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	secret, rc := f.enroll(t, "u1", t0)
	f.enroll(t, "u2", t0)
	if err := f.m.Reset(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	if err := f.m.Verify(ctx, "u1", code(t, secret, now), now); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("Verify after reset = %v", err)
	}
	if err := f.m.UseRecoveryCode(ctx, "u1", rc[0], now); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("recovery code after reset = %v", err)
	}
	if st, err := f.m.Status(ctx, "u1"); err != nil || st.Enrolled {
		t.Fatalf("Status after reset = %+v, %v", st, err)
	}
	if err := f.m.Reset(ctx, "u1"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("second Reset = %v", err)
	}
	if st, _ := f.m.Status(ctx, "u2"); !st.Enrolled || st.RecoveryCodesLeft != 10 {
		t.Fatalf("reset of u1 touched u2: %+v", st)
	}
	// The user can enroll again with a new secret.
	secret2, _ := f.enroll(t, "u1", now)
	later := now.Add(time.Minute)
	if err := f.m.Verify(ctx, "u1", code(t, secret2, later), later); err != nil {
		t.Fatalf("Verify after re-enrollment = %v", err)
	}
}
