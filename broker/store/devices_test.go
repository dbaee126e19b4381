package store

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"porthole/internal/wire"
)

// The inventory's capture method is stored at enrollment and with every
// inventory, and read back with the device.
func TestDeviceCaptureMethod(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	at := time.Unix(1700000000, 0)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return insertDevice(ctx, tx, Device{ID: "d1", PublicKey: []byte{1}, SecretSealed: []byte{1}, Hostname: "pc", EnrolledAt: at, CaptureMethod: "dxgi"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := s.Device(ctx, "d1"); err != nil || d.CaptureMethod != "dxgi" {
		t.Fatalf("after enrollment: %q, %v", d.CaptureMethod, err)
	}
	inv := wire.Inventory{Hostname: "pc", OS: "Windows 10 Pro", Displays: []wire.Display{{Width: 1280, Height: 720, Primary: true}}, Capture: "gdi"}
	if err := s.UpdateInventory(ctx, "d1", "0.1.0", inv, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	ds, err := s.Devices(ctx)
	if err != nil || len(ds) != 1 || ds[0].CaptureMethod != "gdi" || ds[0].OS != "Windows 10 Pro" {
		t.Fatalf("after an inventory: %+v, %v", ds, err)
	}
}
