package capture

import (
	"context"
	"image"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	procCreateWindowExW     = user32.NewProc("CreateWindowExW")
	procDestroyWindow       = user32.NewProc("DestroyWindow")
	procSetForegroundWindow = user32.NewProc("SetForegroundWindow")
	procLoadCursorW         = user32.NewProc("LoadCursorW")
	procSetCursor           = user32.NewProc("SetCursor")
	procSetCursorPos        = user32.NewProc("SetCursorPos")
	procPeekMessageW        = user32.NewProc("PeekMessageW")
	procDispatchMessageW    = user32.NewProc("DispatchMessageW")
)

// pump handles the calling thread's pending window messages.
func pump() {
	var msg [48]byte
	for {
		if r, _, _ := procPeekMessageW.Call(uintptr(unsafe.Pointer(&msg[0])), 0, 0, 0, 1 /* PM_REMOVE */); r == 0 {
			return
		}
		procDispatchMessageW.Call(uintptr(unsafe.Pointer(&msg[0])))
	}
}

// The GDI grabber draws the cursor where it is. The cursor here is this
// test's own (Wine keeps a cursor's image in the process that made it, so
// only real Windows draws another process's), over this test's white
// window: the cross's dark lines show up around the pointer.
func TestGDIDrawsTheCursor(t *testing.T) {
	runtime.LockOSThread() // the window, the cursor and the foreground belong to this thread
	defer runtime.UnlockOSThread()
	class, _ := windows.UTF16PtrFromString("STATIC")
	const wsPopup, wsVisible, wsExTopmost = 0x80000000, 0x10000000, 0x00000008
	win := image.Rect(100, 100, 400, 300)
	hwnd, _, err := procCreateWindowExW.Call(wsExTopmost, uintptr(unsafe.Pointer(class)), 0, wsPopup|wsVisible,
		uintptr(win.Min.X), uintptr(win.Min.Y), uintptr(win.Dx()), uintptr(win.Dy()), 0, 0, 0, 0)
	if hwnd == 0 {
		t.Fatalf("CreateWindowEx: %v", err)
	}
	defer procDestroyWindow.Call(hwnd)
	procSetForegroundWindow.Call(hwnd)
	pump()

	ds, err := Displays()
	if err != nil {
		t.Fatal(err)
	}
	g, err := openGDI(evenRect(DisplayRect(ds[0])), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	pos := image.Pt(250, 200)
	dark := func() int {
		if _, err := g.grab(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		pix, stride := g.pixels()
		n := 0
		for y := pos.Y - 10; y < pos.Y+10; y++ {
			for x := pos.X - 10; x < pos.X+10; x++ {
				if o := y*stride + x*4; pix[o] < 64 && pix[o+1] < 64 && pix[o+2] < 64 {
					n++
				}
			}
		}
		return n
	}
	procSetCursorPos.Call(uintptr(pos.X), uintptr(pos.Y))
	procSetCursor.Call(0) // no cursor
	pump()
	if n := dark(); n != 0 {
		t.Skipf("%d dark pixels in the window without a cursor: the window is not plain (real desktop?)", n)
	}
	cross, _, err := procLoadCursorW.Call(0, 32515 /* IDC_CROSS */)
	if cross == 0 {
		t.Fatalf("LoadCursor: %v", err)
	}
	procSetCursor.Call(cross)
	pump()
	if n := dark(); n == 0 {
		t.Fatal("the cursor was not drawn at the pointer")
	} else {
		t.Logf("%d cursor pixels around the pointer", n)
	}
}
