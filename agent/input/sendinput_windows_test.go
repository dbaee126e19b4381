package input

import (
	"context"
	"errors"
	"testing"
	"unsafe"

	"porthole/internal/wire"
)

var procGetCursorPos = user32.NewProc("GetCursorPos")

func cursorPos(t *testing.T) (int, int) {
	t.Helper()
	var p struct{ X, Y int32 }
	if r, _, err := procGetCursorPos.Call(uintptr(unsafe.Pointer(&p))); r == 0 {
		t.Fatalf("GetCursorPos: %v", err)
	}
	return int(p.X), int(p.Y)
}

// On whatever Windows runs the tests (Wine on Xvfb in make test-windows),
// SendInput puts the cursor on the pixel aimed at.
func TestSendInputMovesTheCursor(t *testing.T) {
	api := &user32API{}
	vs := api.virtualScreen()
	if vs.Empty() {
		t.Fatal("empty virtual desktop")
	}
	ds := []wire.Display{{Index: 0, X: vs.Min.X, Y: vs.Min.Y, Width: vs.Dx(), Height: vs.Dy(), Primary: true}}
	s, err := NewSendInput(Config{Displays: ds})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range [][2]int{{vs.Dx() - 1, vs.Dy() - 1}, {10, 20}, {vs.Dx() / 3, vs.Dy() / 2}} {
		ev := wire.Input{Kind: wire.InputMove, X: wire.NormCoord(p[0], vs.Dx()), Y: wire.NormCoord(p[1], vs.Dy())}
		if err := s.Inject(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if x, y := cursorPos(t); x != vs.Min.X+p[0] || y != vs.Min.Y+p[1] {
			t.Errorf("cursor at %d,%d, want %d,%d", x, y, vs.Min.X+p[0], vs.Min.Y+p[1])
		}
	}
	// Displays off the virtual desktop are refused.
	off := []wire.Display{{Index: 0, X: vs.Max.X, Y: 0, Width: 100, Height: 100}}
	if _, err := NewSendInput(Config{Displays: off}); !errors.Is(err, ErrConfig) {
		t.Fatalf("NewSendInput(off the desktop) = %v", err)
	}
}

// The test process is not the LocalSystem service: Ctrl+Alt+Del is refused
// with the reason, and no SendSAS is attempted. (Only a real Windows
// service can show the secure desktop; Wine has no sas.dll.)
func TestSendSASRefusedOutsideTheService(t *testing.T) {
	if isLocalSystem() {
		t.Skip("running as LocalSystem")
	}
	err := (&user32API{}).sendSAS()
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, errSASDenied) {
		t.Fatalf("sendSAS = %v", err)
	}
	called := false
	api := &user32API{sas: func() error { called = true; return nil }}
	if err := api.sendSAS(); err != nil || !called {
		t.Fatalf("Config.SAS: %v, called %v", err, called)
	}
}
