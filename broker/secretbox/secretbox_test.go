package secretbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func noEnv(string) (string, bool) { return "", false }

func env(v string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if k == EnvKey {
			return v, true
		}
		return "", false
	}
}

func newBox(t *testing.T) *Box {
	t.Helper()
	b, err := Load(t.TempDir(), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	b := newBox(t)
	pt := []byte("JBSWY3DPEHPK3PXP")
	ad := []byte("user:u1")
	ct, err := b.Seal(pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, pt) {
		t.Fatal("ciphertext contains the plaintext")
	}
	if ct[0] != version1 {
		t.Fatalf("version byte %#x", ct[0])
	}
	got, err := b.Open(ct, ad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	ct2, _ := b.Seal(pt, ad)
	if bytes.Equal(ct, ct2) {
		t.Fatal("two seals of the same plaintext are equal (nonce reuse)")
	}
	empty, err := b.Seal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Open(empty, nil); err != nil || len(got) != 0 {
		t.Fatalf("Open(empty) = %q, %v", got, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	b := newBox(t)
	other := newBox(t)
	ad := []byte("user:u1")
	ct, err := b.Seal([]byte("secret"), ad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name string
		box  *Box
		ct   []byte
		ad   []byte
		want error
	}{
		{"wrong ad", b, ct, []byte("user:u2"), ErrOpen},
		{"missing ad", b, ct, nil, ErrOpen},
		{"flipped nonce", b, flip(1 + keyIDSize), ad, ErrOpen},
		{"flipped body", b, flip(headerSize), ad, ErrOpen},
		{"flipped tag", b, flip(len(ct) - 1), ad, ErrOpen},
		{"flipped key id", b, flip(1), ad, ErrWrongKey},
		{"truncated", b, ct[:len(ct)-1], ad, ErrOpen},
		{"header only", b, ct[:headerSize], ad, ErrOpen},
		{"empty", b, nil, ad, ErrOpen},
		{"future version", b, append([]byte{2}, ct[1:]...), ad, ErrVersion},
		{"other key", other, ct, ad, ErrWrongKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.box.Open(tc.ct, tc.ad)
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("Open = %q, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	b1, err := Load(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw))); err != nil || len(key) != KeySize {
		t.Fatalf("key file %q: %v", raw, err)
	}
	ct, _ := b1.Seal([]byte("s"), nil)
	// A second Open reads the same key.
	b2, err := Load(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Open(ct, nil); err != nil {
		t.Fatalf("reopened box cannot open: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".secret.key-*")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
	// A world-readable key file is refused.
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, noEnv); !errors.Is(err, ErrKeyFileMode) {
		t.Fatalf("Load with 0644 key = %v, want ErrKeyFileMode", err)
	}
	// A corrupt key file is refused.
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, noEnv); !errors.Is(err, ErrBadKey) {
		t.Fatalf("Load with short key = %v, want ErrBadKey", err)
	}
}

func TestKeyFileConcurrentCreate(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	boxes := make([]*Box, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { boxes[i], errs[i] = Load(dir, noEnv) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if boxes[i].keyID != boxes[0].keyID {
			t.Fatalf("box %d got a different key", i)
		}
	}
}

func TestEnvKey(t *testing.T) {
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := Load(dir, env(k))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); !os.IsNotExist(err) {
		t.Fatalf("key file created although %s is set: %v", EnvKey, err)
	}
	raw, _ := base64.StdEncoding.DecodeString(k)
	same, _ := New(raw)
	ct, _ := b.Seal([]byte("x"), []byte("ad"))
	if _, err := same.Open(ct, []byte("ad")); err != nil {
		t.Fatalf("box from the same key cannot open: %v", err)
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := Load(dir, env(bad)); !errors.Is(err, ErrBadKey) {
			t.Errorf("Load(env=%q) = %v, want ErrBadKey", bad, err)
		}
	}
	// Open reads the real environment.
	t.Setenv(EnvKey, k)
	fromEnv, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fromEnv.Open(ct, []byte("ad")); err != nil {
		t.Fatalf("Open(env) box cannot open: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	key := bytes.Repeat([]byte{7}, KeySize)
	b, _ := New(key)
	ct, _ := b.Seal([]byte("seed"), []byte("ad"))
	f.Add(ct, []byte("ad"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 2, 3}, []byte("ad"))
	f.Fuzz(func(t *testing.T, ct, ad []byte) {
		pt, err := b.Open(ct, ad)
		if err == nil && !(bytes.Equal(pt, []byte("seed")) && bytes.Equal(ad, []byte("ad"))) {
			t.Fatalf("forged ciphertext opened: %q", pt)
		}
	})
}
