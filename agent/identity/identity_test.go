package identity

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestKeyAndStateRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if _, err := Load(dir); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("empty dir: %v", err)
	}
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil || !k1.Equal(k2) {
		t.Fatal("key not stable across loads")
	}
	st, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode().Perm(), err)
	}
	if err := Save(dir, Identity{BrokerURL: "http://127.0.0.1:1", DeviceID: "d1", DeviceSecret: []byte{1, 2}}); err != nil {
		t.Fatal(err)
	}
	id, err := Load(dir)
	if err != nil || id.DeviceID != "d1" || !id.Key.Equal(k1) {
		t.Fatalf("Load = %+v, %v", id, err)
	}
}
