package mfa

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestParseCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"123456", "123456"},
		{"123 456", "123456"},
		{" 123-456\t", "123456"},
		{"1-2-3-4-5-6", "123456"},
		{"000000", "000000"},
		{"12345", ""},
		{"1234567", ""},
		{"12345a", ""},
		{"１２３４５６", ""}, // full-width digits are not ASCII digits
		{"123_456", ""},
		{"", ""},
		{strings.Repeat(" ", 60) + "123456", ""},
	}
	for _, tc := range tests {
		got, err := ParseCode(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrInvalidCode) {
				t.Errorf("ParseCode(%q) = %q, %v; want ErrInvalidCode", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRecoveryCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abcde-12345", "abcde-12345"},
		{"ABCDE-12345", "abcde-12345"},
		{"abcde12345", "abcde-12345"},
		{" abcde 12345 ", "abcde-12345"},
		{"ab-cd-e1-23-45", "abcde-12345"},
		{"Oo1Il-zzzzz", "00111-zzzzz"}, // Crockford: o→0, i/l→1
		{"abcde-1234", ""},
		{"abcde-123456", ""},
		{"abcdu-12345", ""}, // u is not in the alphabet
		{"abcde_12345", ""},
		{"", ""},
		{"123456", ""},
	}
	for _, tc := range tests {
		got, err := ParseRecoveryCode(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrInvalidCode) {
				t.Errorf("ParseRecoveryCode(%q) = %q, %v; want ErrInvalidCode", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRecoveryCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

var (
	totpRE     = regexp.MustCompile(`^[0-9]{6}$`)
	recoveryRE = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)
)

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "123-456", " 1 2 3 4 5 6 ", "12345", "1234567", "abcdef", "", "\x00", "١٢٣٤٥٦"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCode(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCode) || got != "" {
				t.Fatalf("ParseCode(%q) = %q, %v", s, got, err)
			}
			return
		}
		if !totpRE.MatchString(got) {
			t.Fatalf("ParseCode(%q) = %q: not six digits", s, got)
		}
		// The digits are the input's, in order, and nothing else was dropped
		// but separators.
		if strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '-' {
				return -1
			}
			return r
		}, s) != got {
			t.Fatalf("ParseCode(%q) = %q dropped more than separators", s, got)
		}
		if again, err := ParseCode(got); err != nil || again != got {
			t.Fatalf("ParseCode not idempotent: %q → %q, %v", got, again, err)
		}
	})
}

func FuzzParseRecoveryCode(f *testing.F) {
	for _, s := range []string{"abcde-12345", "ABCDE 12345", "oilOI-00000", "abcde-1234", "abcdu-12345", "", "-----", "zzzzzzzzzz", "ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseRecoveryCode(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCode) || got != "" {
				t.Fatalf("ParseRecoveryCode(%q) = %q, %v", s, got, err)
			}
			return
		}
		if !recoveryRE.MatchString(got) {
			t.Fatalf("ParseRecoveryCode(%q) = %q: not canonical", s, got)
		}
		if again, err := ParseRecoveryCode(got); err != nil || again != got {
			t.Fatalf("ParseRecoveryCode not idempotent: %q → %q, %v", got, again, err)
		}
	})
}

func TestRecoveryCodeGeneration(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		c, err := newRecoveryCode()
		if err != nil {
			t.Fatal(err)
		}
		if !recoveryRE.MatchString(c) {
			t.Fatalf("generated %q", c)
		}
		if seen[c] {
			t.Fatalf("generated %q twice", c)
		}
		seen[c] = true
		for _, r := range strings.ReplaceAll(c, "-", "") {
			counts[r]++
		}
	}
	// 20000 symbols over 32: every symbol appears (expected 625 each).
	if len(counts) != len(recoveryAlphabet) {
		t.Fatalf("only %d of %d symbols used", len(counts), len(recoveryAlphabet))
	}
	for r, n := range counts {
		if n < 450 || n > 800 {
			t.Errorf("symbol %c appears %d times (expected about 625)", r, n)
		}
	}
}

func TestRecoveryCodeHash(t *testing.T) {
	h1, err := hashRecoveryCode("abcde-12345")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashRecoveryCode("abcde-12345")
	if h1 == h2 {
		t.Fatal("two hashes of one code are equal: no per-code salt")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=8192,t=1,p=1$") || strings.Contains(h1, "abcde") {
		t.Fatalf("hash %q", h1)
	}
	for _, tc := range []struct {
		code string
		want bool
	}{{"abcde-12345", true}, {"abcde-12346", false}, {"", false}} {
		if ok, err := checkRecoveryCode(h1, tc.code); err != nil || ok != tc.want {
			t.Errorf("check(%q) = %v, %v; want %v", tc.code, ok, err, tc.want)
		}
	}
	parts := strings.Split(h1, "$")
	bad := []string{
		"", "plain", "$bcrypt$x$y$z$w",
		strings.Replace(h1, "v=19", "v=16", 1),
		strings.Replace(h1, "m=8192", "m=0", 1),
		strings.Replace(h1, "m=8192", "m=99999999", 1),
		strings.Replace(h1, "t=1", "t=0", 1),
		strings.Replace(h1, "p=1", "p=0", 1),
		strings.Join(append(parts[:5:5], "!!"), "$"),
		strings.Join(append(parts[:5:5], ""), "$"),
	}
	for _, h := range bad {
		if ok, err := checkRecoveryCode(h, "abcde-12345"); ok || !errors.Is(err, errBadHash) {
			t.Errorf("check with hash %q = %v, %v; want errBadHash", h, ok, err)
		}
	}
}
