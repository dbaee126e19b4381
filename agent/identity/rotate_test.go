package identity

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
)

// TestKeyRotationState: the new key is in force and the broker's key stays
// as previous until the broker confirms; a resent key changes nothing; a
// rotation that replaced an unconfirmed one keeps the broker's key (not the
// replaced one) as previous; confirmations of anything else are ignored;
// every state survives Save and Load.
func TestKeyRotationState(t *testing.T) {
	k0, k1, k2 := bytes.Repeat([]byte{0}, 32), bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	dir := t.TempDir()
	if _, err := LoadOrCreateKey(dir); err != nil {
		t.Fatal(err)
	}
	id := Identity{BrokerURL: "http://b", DeviceID: "d1", DeviceSecret: k0}
	roundTrip := func(id Identity) Identity {
		t.Helper()
		if err := Save(dir, id); err != nil {
			t.Fatal(err)
		}
		got, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if info, err := os.Stat(filepath.Join(dir, stateFile)); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("state file: %v %v", info, err)
		}
		got.Key = ed25519.PrivateKey(nil)
		return got
	}
	check := func(id Identity, cur, prev []byte, rot string) {
		t.Helper()
		id = roundTrip(id)
		if !bytes.Equal(id.DeviceSecret, cur) || !bytes.Equal(id.PreviousSecret, prev) || id.KeyRotation != rot {
			t.Fatalf("state %x / %x / %q, want %x / %x / %q", id.DeviceSecret, id.PreviousSecret, id.KeyRotation, cur, prev, rot)
		}
	}
	id, changed := id.WithKey("r1", k1)
	if !changed {
		t.Fatal("a new key changed nothing")
	}
	check(id, k1, k0, "r1")
	if _, changed := id.WithKey("r1", k1); changed {
		t.Fatal("a resent key changed the identity")
	}
	// r1 replaced by r2 before the broker confirmed it: k0 is still the
	// broker's key.
	id, _ = id.WithKey("r2", k2)
	check(id, k2, k0, "r2")
	if _, changed := id.KeyDone("r1"); changed {
		t.Fatal("a confirmation of the replaced rotation was taken")
	}
	id, changed = id.KeyDone("r2")
	if !changed {
		t.Fatal("the confirmation changed nothing")
	}
	check(id, k2, nil, "")
	if _, changed := id.KeyDone("r2"); changed {
		t.Fatal("a repeated confirmation changed the identity")
	}
	// The next rotation keeps k2 (in force at the broker) as previous.
	id, _ = id.WithKey("r3", k1)
	check(id, k1, k2, "r3")
}
