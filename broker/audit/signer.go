package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"porthole/broker/secretbox"
)

// The audit log's signing key (ADR 0010): an Ed25519 key kept outside the
// database signs the chain's head on every append and every export, so
// whoever rewrites the chain (and recomputes its hashes) cannot make it
// verify, and whoever holds the public key can check an export offline.

// EnvSigningKey names the environment variable that holds the signing key
// (standard base64 of a 32-byte Ed25519 seed). It wins over the key file.
const EnvSigningKey = "PORTHOLE_AUDIT_KEY"

// SigningKeyFile is the default key file in the data dir.
const SigningKeyFile = "audit.key"

// PublicKeyFile is where the broker writes its public key in the data dir,
// for operators to copy somewhere safe (it is not trusted from there).
const PublicKeyFile = "audit.pub"

// Signature domains: a signature made for one purpose never verifies as
// another.
const (
	headDomain   = "porthole-audit-head-v1\n"
	exportDomain = "porthole-audit-export-v1\n"
)

// Signer signs the chain head and exports. Its zero value is not usable.
type Signer struct {
	priv ed25519.PrivateKey
}

// NewSigner returns a Signer for a 32-byte seed.
func NewSigner(seed []byte) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit: signing key must be %d bytes", ed25519.SeedSize)
	}
	return &Signer{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// LoadSigner reads the signing key from EnvSigningKey (via lookupEnv), else
// from keyFile (default DATA_DIR/audit.key), which is created 0600 when it
// does not exist; created reports that (a new key: the broker may adopt an
// existing, unsigned chain with it).
func LoadSigner(dataDir, keyFile string, lookupEnv func(string) (string, bool)) (s *Signer, created bool, err error) {
	if keyFile == "" {
		keyFile = filepath.Join(dataDir, SigningKeyFile)
	}
	seed, created, err := secretbox.LoadKey(EnvSigningKey, lookupEnv, keyFile)
	if err != nil {
		return nil, false, fmt.Errorf("audit signing key: %w", err)
	}
	if s, err = NewSigner(seed); err != nil {
		return nil, false, err
	}
	return s, created, nil
}

// LoadPublicKey is the public half of the signing key LoadSigner would
// load, for verifying; it never creates a key.
func LoadPublicKey(dataDir, keyFile string, lookupEnv func(string) (string, bool)) (ed25519.PublicKey, error) {
	if keyFile == "" {
		keyFile = filepath.Join(dataDir, SigningKeyFile)
	}
	seed, err := secretbox.ReadKey(EnvSigningKey, lookupEnv, keyFile)
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	s, err := NewSigner(seed)
	if err != nil {
		return nil, err
	}
	return s.Public(), nil
}

// WritePublicKey writes the public key into dataDir (audit.pub), for the
// operator to copy somewhere safe; nothing trusts it from there.
func (s *Signer) WritePublicKey(dataDir string) error {
	if err := os.WriteFile(filepath.Join(dataDir, PublicKeyFile), []byte(s.PublicKeyText()+"\n"), 0o644); err != nil {
		return fmt.Errorf("audit public key: %w", err)
	}
	return nil
}

// Public returns the public key.
func (s *Signer) Public() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// PublicKeyText is the public key as operators copy it: standard base64.
func (s *Signer) PublicKeyText() string { return base64.StdEncoding.EncodeToString(s.Public()) }

// Fingerprint names a public key briefly: the first 8 bytes of its SHA-256, hex.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// ParsePublicKey reads a public key as PublicKeyText writes it, or from a
// file holding that text.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	data, err := os.ReadFile(s)
	if err != nil {
		return nil, errors.New("audit public key: want the base64 key or a file holding it")
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("audit public key file %s: not a base64 Ed25519 public key", s)
	}
	return ed25519.PublicKey(b), nil
}

// headPayload is what a head signature covers.
func headPayload(seq int64, hash string) []byte {
	return []byte(headDomain + strconv.FormatInt(seq, 10) + "\n" + hash)
}

func (s *Signer) signHead(seq int64, hash string) []byte {
	return ed25519.Sign(s.priv, headPayload(seq, hash))
}

func verifyHead(pub ed25519.PublicKey, seq int64, hash string, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, headPayload(seq, hash), sig)
}
