package e2e

import (
	"crypto/ed25519"
	"testing"

	"porthole/agent/identity"
)

func mustLoadKey(t *testing.T, dir string) ed25519.PrivateKey {
	t.Helper()
	id, err := identity.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return id.Key
}
