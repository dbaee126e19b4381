package agent

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"porthole/agent/identity"
	"porthole/internal/wire"
)

// TestDeviceKeyStoredBeforeAck: the agent acknowledges a new key only once
// the key is in its saved identity (what a crash right after the ack would
// restart from), acknowledges a resent key again, and does not acknowledge
// a key it could not save; the broker's confirmation drops the old key.
func TestDeviceKeyStoredBeforeAck(t *testing.T) {
	dir := t.TempDir()
	if _, err := identity.LoadOrCreateKey(dir); err != nil {
		t.Fatal(err)
	}
	old, next := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	id := identity.Identity{BrokerURL: "http://b", DeviceID: "d1", DeviceSecret: old}
	if err := identity.Save(dir, id); err != nil {
		t.Fatal(err)
	}
	var acks []string
	send := func(m wire.Message) error {
		ack := m.(*wire.DeviceKeyAck)
		saved, err := identity.Load(dir)
		if err != nil || !bytes.Equal(saved.DeviceSecret, next) || !bytes.Equal(saved.PreviousSecret, old) {
			t.Errorf("ack sent before the key was saved: %+v %v", saved, err)
		}
		acks = append(acks, ack.RotationID)
		return nil
	}
	ctx := context.Background()
	k := newDeviceKeys(dir, id, nil, send, slog.New(slog.DiscardHandler))
	for range 2 {
		k.onKey(ctx, &wire.DeviceKey{RotationID: "r1", Secret: next})
	}
	if len(acks) != 2 || acks[0] != "r1" {
		t.Fatalf("acks %v", acks)
	}
	k.onDone(ctx, &wire.DeviceKeyDone{RotationID: "r1"})
	saved, err := identity.Load(dir)
	if err != nil || saved.PreviousSecret != nil || saved.KeyRotation != "" || !bytes.Equal(saved.DeviceSecret, next) {
		t.Fatalf("after done: %+v %v", saved, err)
	}

	// A key that cannot be saved is not acknowledged (the broker keeps the
	// old key in force and resends it).
	bad := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(bad, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k2 := newDeviceKeys(bad, id, nil, func(wire.Message) error { t.Error("acknowledged an unsaved key"); return nil }, slog.New(slog.DiscardHandler))
	k2.onKey(ctx, &wire.DeviceKey{RotationID: "r2", Secret: next})
	if !bytes.Equal(k2.id.DeviceSecret, old) {
		t.Fatal("an unsaved key was put in force")
	}
}
