package platform

import (
	"context"
	"errors"
	"image"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/agent"
	"porthole/agent/consent"
	"porthole/agent/input"
	"porthole/agent/support"
	"porthole/internal/wire"
	"porthole/internal/xvfb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestAssembleLinux: the Linux services wired into the core's interfaces
// work on a real X display: the second of two monitors is captured at its
// own size, what is captured encodes to a VP8 keyframe, input binds to the
// display, and the sudoers directory reaches the elevation config.
func TestAssembleLinux(t *testing.T) {
	x := xvfb.StartT(t, xvfb.Options{Width: 1280, Height: 480})
	two := []wire.Display{{Index: 0, Width: 640, Height: 480, Primary: true}, {Index: 1, X: 640, Width: 640, Height: 480}}
	cfg := agent.Config{Elevation: &agent.ElevationConfig{}}
	if err := Assemble(&cfg, Options{Display: x.Display, SudoersDir: "/tmp/sudoers.d", DesktopDir: t.TempDir()}, false, nil); err != nil {
		t.Fatal(err)
	}
	if cfg.Displays == nil || cfg.Support.Asker != nil || cfg.Elevation.Manager.SudoersDir != "/tmp/sudoers.d" {
		t.Fatalf("assembled %+v", cfg)
	}
	src, err := cfg.Support.OpenSource(two[1], 30, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if b := src.Bounds(); b != image.Rect(640, 0, 1280, 480) {
		t.Fatalf("captured %v, want the second monitor", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	img, err := src.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	enc, err := cfg.Support.NewEncoder(support.EncoderConfig{Width: b.Dx(), Height: b.Dy(), FPS: 30, BitrateKbps: 1000, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	frame, key, err := enc.Encode(img, 0, false)
	if err != nil || !key || len(frame) == 0 {
		t.Fatalf("Encode = %d bytes, keyframe %v, %v", len(frame), key, err)
	}
	inj, err := cfg.Support.NewInjector(two, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := inj.Inject(ctx, wire.Input{Kind: wire.InputMove, Display: 1, X: 100, Y: 100}); !errors.Is(err, input.ErrViewOnly) {
		t.Errorf("a view-only injector: %v, want input.ErrViewOnly", err)
	}
	if err := inj.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAssembleLinuxDesktopNeedsDisplay: the desktop prompt is required,
// so without a display Assemble fails, naming it.
func TestAssembleLinuxDesktopNeedsDisplay(t *testing.T) {
	var cfg agent.Config
	err := Assemble(&cfg, Options{DesktopDir: t.TempDir()}, true, nil)
	if !errors.Is(err, consent.ErrNoDisplay) {
		t.Fatalf("Assemble without a display = %v, want consent.ErrNoDisplay", err)
	}
	if cfg.Support.Asker != nil {
		t.Fatal("an asker was wired although the prompt failed")
	}
}
