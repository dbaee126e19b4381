package input

import (
	"context"
	"encoding/binary"
	"errors"
	"image"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"porthole/internal/wire"
)

// The INPUT record is what user32 expects on 64-bit Windows (40 bytes).
func TestWinInputLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 8 && unsafe.Sizeof(winInput{}) != 40 {
		t.Fatalf("sizeof(INPUT) = %d, want 40", unsafe.Sizeof(winInput{}))
	}
}

// windowsPixel is how Windows maps an absolute coordinate back to a pixel
// of the virtual desktop (left + n*width/65536, rounded down).
func windowsPixel(n int32, origin, size int) int {
	return origin + int(int64(n)*int64(size)>>16)
}

// Every pixel of a virtual desktop, left of and above the primary monitor
// too, round-trips through the normalised coordinates exactly.
func TestAbsoluteLandsOnEveryPixel(t *testing.T) {
	for _, vs := range []image.Rectangle{
		image.Rect(0, 0, 1280, 720),
		image.Rect(0, 0, 1920, 1080),
		image.Rect(-1920, -200, 2560, 1440), // a monitor left of and above the primary
		image.Rect(0, 0, 7680, 4320),
		image.Rect(0, 0, 1, 1),
	} {
		for x := vs.Min.X; x < vs.Max.X; x++ {
			nx, ny := absolute(x, vs.Min.Y+(x-vs.Min.X)%vs.Dy(), vs)
			if nx < 0 || nx > 65535 || ny < 0 || ny > 65535 {
				t.Fatalf("%v: pixel %d → %d,%d out of range", vs, x, nx, ny)
			}
			if got := windowsPixel(nx, vs.Min.X, vs.Dx()); got != x {
				t.Fatalf("%v: x %d → %d → pixel %d", vs, x, nx, got)
			}
			if wy, got := vs.Min.Y+(x-vs.Min.X)%vs.Dy(), windowsPixel(ny, vs.Min.Y, vs.Dy()); got != wy {
				t.Fatalf("%v: y %d → %d → pixel %d", vs, wy, ny, got)
			}
		}
	}
	// Outside the desktop is clamped to its edge.
	vs := image.Rect(0, 0, 100, 100)
	if nx, ny := absolute(-5, 500, vs); windowsPixel(nx, 0, 100) != 0 || windowsPixel(ny, 0, 100) != 99 {
		t.Fatalf("clamp: %d,%d", nx, ny)
	}
}

// rec is a decoded INPUT record, for readable test failures.
type rec struct {
	Typ             uint32
	DX, DY          int32
	Data, Flags     uint32
	VK, Scan        uint16
	KeyFlags        uint32
	IsMouse, IsKeyb bool
}

func decode(in winInput) rec {
	r := rec{Typ: in.typ}
	switch in.typ {
	case inputMouse:
		r.IsMouse = true
		r.DX = int32(binary.LittleEndian.Uint32(in.u[0:]))
		r.DY = int32(binary.LittleEndian.Uint32(in.u[4:]))
		r.Data = binary.LittleEndian.Uint32(in.u[8:])
		r.Flags = binary.LittleEndian.Uint32(in.u[12:])
	case inputKeyboard:
		r.IsKeyb = true
		r.VK = binary.LittleEndian.Uint16(in.u[0:])
		r.Scan = binary.LittleEndian.Uint16(in.u[2:])
		r.KeyFlags = binary.LittleEndian.Uint32(in.u[4:])
	}
	return r
}

// fakeWin is winAPI recording each SendInput batch.
type fakeWin struct {
	vs       image.Rectangle
	batches  [][]rec
	accept   int // records SendInput inserts per call; <0 means all
	sasCalls int
	sasErr   error
}

func (f *fakeWin) sendInput(ins []winInput) (int, error) {
	var b []rec
	for _, in := range ins {
		b = append(b, decode(in))
	}
	f.batches = append(f.batches, b)
	if f.accept >= 0 && f.accept < len(ins) {
		return f.accept, errors.New("Access is denied.")
	}
	return len(ins), nil
}
func (f *fakeWin) virtualScreen() image.Rectangle { return f.vs }
func (f *fakeWin) sendSAS() error                 { f.sasCalls++; return f.sasErr }

func (f *fakeWin) take() [][]rec {
	b := f.batches
	f.batches = nil
	return b
}

func newWinCore(t *testing.T) (*core, *fakeWin) {
	t.Helper()
	f := &fakeWin{vs: image.Rect(-1920, -200, 1280, 880), accept: -1}
	return newCore(Config{Displays: twoScreens}, &winBackend{api: f}, "test"), f
}

func TestSendInputRecords(t *testing.T) {
	c, f := newWinCore(t)
	x, y := 100, 50
	nx, ny := absolute(-1920+x, -200+y, f.vs)
	tests := []struct {
		name string
		ev   wire.Input
		want [][]rec
	}{
		{"move on the left monitor", wire.Input{Kind: wire.InputMove, Display: 1, X: wire.NormCoord(x, 1920), Y: wire.NormCoord(y, 1080)},
			[][]rec{{{Typ: inputMouse, IsMouse: true, DX: nx, DY: ny, Flags: mouseMove | mouseAbsolute | mouseVirtualDesk}}}},
		{"left down", wire.Input{Kind: wire.InputButtonDown, Button: wire.ButtonLeft},
			[][]rec{{{Typ: inputMouse, IsMouse: true, Flags: mouseLeftDown}}}},
		{"middle up", wire.Input{Kind: wire.InputButtonUp, Button: wire.ButtonMiddle},
			[][]rec{{{Typ: inputMouse, IsMouse: true, Flags: mouseMiddleUp}}}},
		{"right down", wire.Input{Kind: wire.InputButtonDown, Button: wire.ButtonRight},
			[][]rec{{{Typ: inputMouse, IsMouse: true, Flags: mouseRightDown}}}},
		{"wheel down 3, right 1", wire.Input{Kind: wire.InputWheel, DX: 1, DY: 3},
			[][]rec{{{Typ: inputMouse, IsMouse: true, Data: uint32(0xffffffff - 360 + 1), Flags: mouseWheel},
				{Typ: inputMouse, IsMouse: true, Data: 120, Flags: mouseHWheel}}}},
		{"wheel up", wire.Input{Kind: wire.InputWheel, DY: -1},
			[][]rec{{{Typ: inputMouse, IsMouse: true, Data: 120, Flags: mouseWheel}}}},
		{"A down by scan code", down("KeyA", 0),
			[][]rec{{{Typ: inputKeyboard, IsKeyb: true, VK: 'A', Scan: 0x1e, KeyFlags: keyScancode}}}},
		{"A up", up("KeyA", 0),
			[][]rec{{{Typ: inputKeyboard, IsKeyb: true, VK: 'A', Scan: 0x1e, KeyFlags: keyScancode | keyUp}}}},
		{"arrow: extended", down("ArrowLeft", 0),
			[][]rec{{{Typ: inputKeyboard, IsKeyb: true, VK: 0x25, Scan: 0x4b, KeyFlags: keyScancode | keyExtended}}}},
		{"right Ctrl up: extended", up("ControlRight", 0),
			[][]rec{{{Typ: inputKeyboard, IsKeyb: true, VK: 0xa3, Scan: 0x1d, KeyFlags: keyScancode | keyExtended | keyUp}}}},
		{"Pause by virtual key", down("Pause", 0),
			[][]rec{{{Typ: inputKeyboard, IsKeyb: true, VK: vkPause, Scan: 0x45}}}},
		{"NumLock: extended 0x45", down("NumLock", 0),
			[][]rec{{{Typ: inputKeyboard, IsKeyb: true, VK: 0x90, Scan: 0x45, KeyFlags: keyScancode | keyExtended}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			injectAll(t, c, tc.ev)
			if diff := cmp.Diff(tc.want, f.take()); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendInputPaste(t *testing.T) {
	c, f := newWinCore(t)
	injectAll(t, c, wire.Input{Kind: wire.InputPaste, Text: "é\n😀\t"})
	u := func(c uint16, flags uint32) rec {
		return rec{Typ: inputKeyboard, IsKeyb: true, Scan: c, KeyFlags: flags}
	}
	k := func(vk, scan uint16, flags uint32) rec {
		return rec{Typ: inputKeyboard, IsKeyb: true, VK: vk, Scan: scan, KeyFlags: flags}
	}
	want := [][]rec{{
		u(0xe9, keyUnicode), u(0xe9, keyUnicode|keyUp),
		k(0x0d, 0x1c, keyScancode), k(0x0d, 0x1c, keyScancode|keyUp), // Enter
		u(0xd83d, keyUnicode), u(0xd83d, keyUnicode|keyUp), u(0xde00, keyUnicode), u(0xde00, keyUnicode|keyUp),
		k(0x09, 0x0f, keyScancode), k(0x09, 0x0f, keyScancode|keyUp), // Tab
	}}
	if diff := cmp.Diff(want, f.take()); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	// Long pastes go in chunks, and stop when the context ends.
	long := strings.Repeat("x", 2*pasteChunk+1)
	injectAll(t, c, wire.Input{Kind: wire.InputPaste, Text: long})
	if b := f.take(); len(b) != 3 || len(b[0]) != 2*pasteChunk || len(b[2]) != 2 {
		t.Fatalf("chunks: %d batches", len(b))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Inject(ctx, wire.Input{Kind: wire.InputPaste, Text: long}); !errors.Is(err, context.Canceled) {
		t.Fatalf("paste with an ended context = %v", err)
	}
}

// SendInput that inserts fewer records than given (UIPI, another desktop)
// is an error, and the key is not taken as held.
func TestSendInputBlocked(t *testing.T) {
	c, f := newWinCore(t)
	f.accept = 0
	err := c.Inject(context.Background(), down("KeyA", 0))
	if err == nil || !strings.Contains(err.Error(), "inserted 0 of 1") {
		t.Fatalf("blocked SendInput = %v", err)
	}
	f.accept = -1
	f.take()
	injectAll(t, c, wire.Input{Kind: wire.InputReleaseAll})
	if b := f.take(); len(b) != 0 {
		t.Fatalf("release after a refused key-down sent %v", b)
	}
}

// Ctrl+Alt+Del from the portal's button calls SendSAS instead of Delete.
func TestSendInputCtrlAltDel(t *testing.T) {
	c, f := newWinCore(t)
	injectAll(t, c, down("ControlLeft", wire.ModCtrl), down("AltLeft", wire.ModCtrl|wire.ModAlt), down("Delete", wire.ModCtrl|wire.ModAlt))
	if f.sasCalls != 1 {
		t.Fatalf("SendSAS called %d times", f.sasCalls)
	}
	for _, b := range f.take() {
		for _, r := range b {
			if r.Scan == 0x53 {
				t.Fatalf("Delete was injected as a key: %+v", r)
			}
		}
	}
}

// SendSAS(FALSE) works only from LocalSystem with the policy admitting
// services; each refusal says what is missing.
func TestSASPermitted(t *testing.T) {
	tests := []struct {
		policy      uint32
		set, system bool
		ok          bool
		says        string
	}{
		{sasServices, true, true, true, ""},
		{sasBoth, true, true, true, ""},
		{sasServices, true, false, false, "LocalSystem"},
		{sasEase, true, true, false, "SoftwareSASGeneration policy (2)"},
		{sasNone, true, true, false, "SoftwareSASGeneration"},
		{sasServices, false, true, false, "SoftwareSASGeneration"},
	}
	for _, tc := range tests {
		err := sasPermitted(tc.policy, tc.set, tc.system)
		if (err == nil) != tc.ok || (err != nil && (!errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.says))) {
			t.Errorf("sasPermitted(%d, %v, %v) = %v", tc.policy, tc.set, tc.system, err)
		}
	}
}
