// Package identity keeps an agent's enrollment on disk: its Ed25519 device
// key and what the broker returned (device id, per-device secret, broker URL).
// Files are written atomically with mode 0600 in the agent's state dir.
package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"porthole/internal/durable"
)

const (
	keyFile   = "device.key"
	stateFile = "device.json"
)

// ErrNotEnrolled means the state dir holds no enrollment yet.
var ErrNotEnrolled = errors.New("agent is not enrolled (run porthole-agent enroll)")

// Identity is an enrolled agent.
type Identity struct {
	BrokerURL    string             `json:"broker_url"`
	DeviceID     string             `json:"device_id"`
	DeviceSecret []byte             `json:"device_secret"`
	CACert       string             `json:"ca_cert,omitempty"` // PEM of a CA/self-signed broker cert to trust
	Key          ed25519.PrivateKey `json:"-"`
	// PreviousSecret and KeyRotation are set while a rotation of
	// DeviceSecret is not yet confirmed by the broker (see rotate.go).
	PreviousSecret []byte `json:"previous_secret,omitempty"`
	KeyRotation    string `json:"key_rotation,omitempty"`
}

// LoadOrCreateKey returns the device key in dir, generating it on first use.
func LoadOrCreateKey(dir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, keyFile)
	seed, err := os.ReadFile(path)
	if err == nil {
		if len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("device key %s is corrupt", path)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read device key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := writeFile(dir, keyFile, priv.Seed()); err != nil {
		return nil, fmt.Errorf("write device key: %w", err)
	}
	return priv, nil
}

// Save stores the enrollment result.
func Save(dir string, id Identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(dir, stateFile, b)
}

// Load reads the enrollment and key from dir.
func Load(dir string) (Identity, error) {
	var id Identity
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return id, ErrNotEnrolled
	}
	if err != nil {
		return id, err
	}
	if err := json.Unmarshal(b, &id); err != nil {
		return id, fmt.Errorf("enrollment state %s: %w", dir, err)
	}
	seed, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil || len(seed) != ed25519.SeedSize {
		return id, fmt.Errorf("device key missing or corrupt in %s: re-enroll", dir)
	}
	id.Key = ed25519.NewKeyFromSeed(seed)
	return id, nil
}

// writeFile writes atomically and durably (temp file, fsync, rename, fsync
// of the directory) with mode 0600.
func writeFile(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(dir, name), data, 0o600)
}
