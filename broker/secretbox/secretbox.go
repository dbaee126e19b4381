// Package secretbox encrypts the broker's secrets at rest (TOTP seeds, and
// whatever else must be recoverable rather than merely recognisable) with
// AES-256-GCM under one key that lives outside the database: in the
// environment (PORTHOLE_SECRET_KEY) or in a 0600 file in the data dir. A
// stolen database file alone therefore reveals no secret.
//
// Ciphertext layout (version 1):
//
//	0x01 | key id (4 bytes) | nonce (12 bytes) | AES-GCM ciphertext and tag
//
// The key id is the first four bytes of SHA-256("porthole/secretbox/keyid" ||
// key). It lets Open say "wrong key" rather than "tampered", and lets a later
// version hold several keys for rotation. The header is authenticated along
// with the caller's associated data.
package secretbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvKey names the environment variable that holds the key (standard base64
// of 32 bytes). When set, it wins over the key file and no file is created.
const EnvKey = "PORTHOLE_SECRET_KEY"

// KeyFile is the name of the key file in the data dir, created on first use.
const KeyFile = "secret.key"

// KeySize is the key length in bytes (AES-256).
const KeySize = 32

const (
	version1   = 0x01
	keyIDSize  = 4
	nonceSize  = 12
	headerSize = 1 + keyIDSize + nonceSize
)

// Box seals and opens secrets under one key. It is safe for concurrent use.
type Box struct {
	aead  cipher.AEAD
	keyID [keyIDSize]byte
}

// Open returns a Box whose key comes from the environment variable EnvKey or,
// when that is unset, from dataDir/secret.key, which is created (0600, from
// crypto/rand) if it does not exist yet.
func Open(dataDir string) (*Box, error) { return Load(dataDir, os.LookupEnv) }

// Load is Open with the environment passed in, for tests and for callers
// that read configuration from somewhere other than the process environment.
func Load(dataDir string, lookupEnv func(string) (string, bool)) (*Box, error) {
	key, _, err := LoadKey(EnvKey, lookupEnv, filepath.Join(dataDir, KeyFile))
	if err != nil {
		return nil, err
	}
	return New(key)
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, ErrBadKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	b := &Box{aead: aead}
	sum := sha256.Sum256(append([]byte("porthole/secretbox/keyid"), key...))
	copy(b.keyID[:], sum[:keyIDSize])
	return b, nil
}

// NewKey returns a fresh random key, base64 encoded as EnvKey expects
// (for an operator who wants to keep the key outside the data dir).
func NewKey() (string, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("secretbox: %w", err)
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

// Seal encrypts plaintext and binds it to associatedData, which Open must be
// given again (use it to tie a secret to its owner, e.g. a user id, so that
// ciphertexts cannot be swapped between rows).
func (b *Box) Seal(plaintext, associatedData []byte) ([]byte, error) {
	out := make([]byte, headerSize, headerSize+len(plaintext)+b.aead.Overhead())
	out[0] = version1
	copy(out[1:], b.keyID[:])
	if _, err := rand.Read(out[1+keyIDSize : headerSize]); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	nonce := out[1+keyIDSize : headerSize]
	return b.aead.Seal(out, nonce, plaintext, b.ad(out[:headerSize], associatedData)), nil
}

// Open authenticates and decrypts a ciphertext from Seal with the same
// associated data.
func (b *Box) Open(ciphertext, associatedData []byte) ([]byte, error) {
	if len(ciphertext) < 1 {
		return nil, ErrOpen
	}
	if ciphertext[0] != version1 {
		return nil, fmt.Errorf("%w %d", ErrVersion, ciphertext[0])
	}
	if len(ciphertext) < headerSize+b.aead.Overhead() {
		return nil, ErrOpen
	}
	if !bytes.Equal(ciphertext[1:1+keyIDSize], b.keyID[:]) {
		return nil, ErrWrongKey
	}
	nonce := ciphertext[1+keyIDSize : headerSize]
	pt, err := b.aead.Open(nil, nonce, ciphertext[headerSize:], b.ad(ciphertext[:headerSize], associatedData))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// ad authenticates the header with the caller's data. The header has a
// fixed size, so the concatenation is unambiguous.
func (b *Box) ad(header, associatedData []byte) []byte {
	out := make([]byte, 0, len(header)+len(associatedData))
	out = append(out, header...)
	return append(out, associatedData...)
}

func decodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != KeySize {
		return nil, ErrBadKey
	}
	return key, nil
}

// loadOrCreateKeyFile reads the key file, or creates it atomically: the key
// is written to a private temporary file and hard-linked into place, so a
// crash never leaves a half-written key and two brokers starting at once
// agree on one key. created reports that this call made the file.
func loadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	key, err = readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("secretbox: data dir: %w", err)
	}
	enc, err := NewKey()
	if err != nil {
		return nil, false, err
	}
	tmp, err := os.CreateTemp(dir, ".secret.key-*")
	if err != nil {
		return nil, false, fmt.Errorf("secretbox: create key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp already makes the file 0600; say so explicitly.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("secretbox: create key: %w", err)
	}
	if _, err := tmp.WriteString(enc + "\n"); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("secretbox: write key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("secretbox: write key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("secretbox: write key: %w", err)
	}
	err = os.Link(tmp.Name(), path)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, false, fmt.Errorf("secretbox: install key: %w", err)
	}
	// Whoever linked first won; everyone reads the file that is in place.
	key, rerr := readKeyFile(path)
	return key, err == nil && rerr == nil, rerr
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secretbox: key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secretbox: key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is %v: %w", path, st.Mode().Perm(), ErrKeyFileMode)
	}
	buf, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return nil, fmt.Errorf("secretbox: key file: %w", err)
	}
	key, err := decodeKey(string(buf))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}
