package accounts

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"crypto/rand"
)

// debianNameRegex is the default NAME_REGEX of Debian's adduser/useradd.
var debianNameRegex = regexp.MustCompile(`^[a-z][-a-z0-9_]*$`)

func TestRandomName(t *testing.T) {
	tests := []struct {
		prefix  string
		wantErr bool
	}{
		{prefix: DefaultPrefix},
		{prefix: "ph-test-"},
		{prefix: "a"},
		{prefix: "breakglass_1"}, // 12 characters: the longest allowed
		{prefix: "", wantErr: true},
		{prefix: "Ph-", wantErr: true},
		{prefix: "1ph", wantErr: true},
		{prefix: "-ph", wantErr: true},
		{prefix: "ph:", wantErr: true},
		{prefix: "ph x", wantErr: true},
		{prefix: "ph/", wantErr: true},
		{prefix: "breakglass_12", wantErr: true}, // 13 + 8 > 20
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			name, err := randomName(rand.Reader, tt.prefix)
			if tt.wantErr {
				if !errors.Is(err, ErrBadSpec) {
					t.Fatalf("randomName(%q) = %q, %v; want ErrBadSpec", tt.prefix, name, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rest, ok := strings.CutPrefix(name, tt.prefix)
			if !ok || !regexp.MustCompile(`^[a-z0-9]{8}$`).MatchString(rest) {
				t.Fatalf("randomName(%q) = %q, want prefix + 8 lowercase alphanumerics", tt.prefix, name)
			}
			if len(name) > maxNameLen || !debianNameRegex.MatchString(name) {
				t.Fatalf("%q is not a portable username", name)
			}
		})
	}
}

func TestRandomNamesDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n, err := randomName(rand.Reader, DefaultPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if seen[n] {
			t.Fatalf("duplicate name %q in 1000 draws", n)
		}
		seen[n] = true
	}
}

func TestRandomPassword(t *testing.T) {
	const ambiguous = "0Oo1lI|`'\"\\ :$"
	seen := map[string]bool{}
	for range 2000 {
		pw, err := randomPassword(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != PasswordLen || PasswordLen < 20 {
			t.Fatalf("password length %d, want %d (>= 20)", len(pw), PasswordLen)
		}
		if !hasClasses(pw) {
			t.Fatalf("password %q misses a character class", pw)
		}
		if strings.ContainsAny(pw, ambiguous) {
			t.Fatalf("password %q has an ambiguous or unsafe character", pw)
		}
		for _, c := range pw {
			if !strings.ContainsRune(passwordChars, c) {
				t.Fatalf("password %q has %q outside the alphabet", pw, c)
			}
		}
		if seen[pw] {
			t.Fatalf("duplicate password in 2000 draws")
		}
		seen[pw] = true
	}
}

func TestHasClasses(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"Ab3!", true},
		{"ab3!", false},
		{"AB3!", false},
		{"Abc!", false},
		{"Ab34", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := hasClasses(tt.in); got != tt.want {
			t.Errorf("hasClasses(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// zeroReader always yields zero bytes: every draw is the alphabet's first
// character, so no candidate has all classes.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestRandomFailures(t *testing.T) {
	if pw, err := randomPassword(zeroReader{}); err == nil {
		t.Fatalf("randomPassword(zero source) = %q, want error", pw)
	}
	if pw, err := randomPassword(failReader{}); err == nil {
		t.Fatalf("randomPassword(failing source) = %q, want error", pw)
	}
	if n, err := randomName(failReader{}, DefaultPrefix); err == nil {
		t.Fatalf("randomName(failing source) = %q, want error", n)
	}
}
