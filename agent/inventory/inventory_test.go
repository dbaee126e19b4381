package inventory

import (
	"context"
	"strings"
	"testing"

	"porthole/internal/wire"
)

func TestCollectIsValid(t *testing.T) {
	inv := Collect(context.Background(), func() ([]wire.Display, error) {
		return []wire.Display{{Index: 0, Width: 1280, Height: 720, Primary: true}}, nil
	}, func() string { return "gdi" })
	if err := inv.Validate(); err != nil {
		t.Fatalf("collected inventory invalid: %v (%+v)", err, inv)
	}
	if inv.Hostname == "" || inv.OS == "" || len(inv.Displays) != 1 || inv.Capture != "gdi" {
		t.Fatalf("incomplete inventory %+v", inv)
	}
}

func TestSanitize(t *testing.T) {
	inv := sanitize(wire.Inventory{Hostname: "bad\x01host\xff" + strings.Repeat("x", 300), User: "u\n", Capture: "GDI BitBlt"})
	if err := inv.Validate(); err != nil {
		t.Fatalf("sanitized inventory invalid: %v", err)
	}
	if inv.Capture != "" {
		t.Errorf("an invalid capture method was kept: %q", inv.Capture)
	}
}
