package capture

import (
	"context"
	"slices"
	"testing"
	"time"
)

// On whatever Windows runs the tests (Wine on Xvfb in make test-windows),
// the displays are listed with the primary first, and a Screen opens on it
// by a method that works and delivers a frame of the display's size.
func TestScreensOpen(t *testing.T) {
	ds, err := Displays()
	if err != nil {
		t.Fatal(err)
	}
	if !ds[0].Primary || ds[0].X != 0 || ds[0].Y != 0 {
		t.Fatalf("display 0 is not the primary at 0,0: %+v", ds)
	}
	s := NewScreens(nil)
	method := s.Method()
	if !slices.Contains([]string{MethodDXGI, MethodGDI}, method) {
		t.Fatalf("Method() = %q", method)
	}
	sc, err := s.Open(ds[0], Options{MaxFPS: 60})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if sc.Method() != method {
		t.Errorf("opened with %s, Method() said %s", sc.Method(), method)
	}
	t.Logf("capture method %s on %dx%d", sc.Method(), ds[0].Width, ds[0].Height)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	img, err := sc.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect.Dx() != ds[0].Width&^1 || img.Rect.Dy() != ds[0].Height&^1 {
		t.Fatalf("frame %v for display %+v", img.Rect, ds[0])
	}
	// A still screen makes Next wait.
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if _, err := sc.Next(short); err == nil {
		t.Log("the screen changed while still (a clock?)")
	}
}

// DXGI where Windows cannot duplicate the output (Wine: E_NOTIMPL) is an
// error wrapping ErrUnsupported, so the chooser rules it out.
func TestDXGIUnsupportedIsRuledOut(t *testing.T) {
	ds, err := Displays()
	if err != nil {
		t.Fatal(err)
	}
	g, err := openDXGI(evenRect(DisplayRect(ds[0])), Options{})
	if err == nil {
		g.close()
		t.Skip("Desktop Duplication works here (real Windows)")
	}
	t.Logf("DXGI: %v", err)
	s := NewScreens(nil)
	if s.Method() == MethodDXGI {
		t.Fatal("Method() says dxgi where it fails")
	}
}
