//go:build linux

package elevation

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"porthole/agent/elevation/elevationtest"
	"porthole/internal/elevcode"
)

// TestSetKeysRotation: after a key rotation the new key's codes elevate;
// the old key's still do while the rotation is unconfirmed (the broker may
// have issued one just before it heard of the new key), and once the
// broker confirms it (SetKeys without a previous key) they are refused.
func TestSetKeysRotation(t *testing.T) {
	elevationtest.NeedRoot(t)
	h := newHarness(t, "", nil)
	ctx := context.Background()
	newKey := bytes.Repeat([]byte{0x43}, 32)
	at := start.Add(-time.Minute)
	u1, _ := testUser(t)
	u2, _ := testUser(t)
	u3, _ := testUser(t)
	oldCode1 := elevationtest.Code(t, testSecret, testDevice, u1, 30*time.Minute, at)
	oldCode2 := elevationtest.Code(t, testSecret, testDevice, u2, 30*time.Minute, at)

	if err := h.m.SetKeys(newKey, testSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.Elevate(ctx, u1, oldCode1); err != nil {
		t.Fatalf("old key's code before the rotation is confirmed: %v", err)
	}
	if _, err := h.m.Elevate(ctx, u3, elevationtest.Code(t, newKey, testDevice, u3, 30*time.Minute, at)); err != nil {
		t.Fatalf("new key's code: %v", err)
	}
	if err := h.m.SetKeys(newKey, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.Elevate(ctx, u2, oldCode2); !errors.Is(err, elevcode.ErrBadCode) {
		t.Fatalf("old key's code after the rotation = %v, want ErrBadCode", err)
	}
	if err := h.m.SetKeys(make([]byte, 3), nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("short key accepted: %v", err)
	}
	for _, u := range []string{u1, u3} {
		if err := h.m.Revoke(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
}
