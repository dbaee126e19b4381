package capture

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// The user32 and gdi32 calls of the Windows capture (x/sys/windows wraps
// none of them).
var (
	user32                  = windows.NewLazySystemDLL("user32.dll")
	gdi32                   = windows.NewLazySystemDLL("gdi32.dll")
	procEnumDisplayMonitors = user32.NewProc("EnumDisplayMonitors")
	procGetMonitorInfoW     = user32.NewProc("GetMonitorInfoW")
	procGetDC               = user32.NewProc("GetDC")
	procReleaseDC           = user32.NewProc("ReleaseDC")
	procGetCursorInfo       = user32.NewProc("GetCursorInfo")
	procGetIconInfo         = user32.NewProc("GetIconInfo")
	procDrawIconEx          = user32.NewProc("DrawIconEx")
	procCreateCompatibleDC  = gdi32.NewProc("CreateCompatibleDC")
	procCreateDIBSection    = gdi32.NewProc("CreateDIBSection")
	procSelectObject        = gdi32.NewProc("SelectObject")
	procDeleteObject        = gdi32.NewProc("DeleteObject")
	procDeleteDC            = gdi32.NewProc("DeleteDC")
	procBitBlt              = gdi32.NewProc("BitBlt")
	procGdiFlush            = gdi32.NewProc("GdiFlush")
)

// winRect is RECT.
type winRect struct{ Left, Top, Right, Bottom int32 }

// monitorInfoEx is MONITORINFOEXW (104 bytes).
type monitorInfoEx struct {
	Size    uint32
	Monitor winRect
	Work    winRect
	Flags   uint32
	Device  [32]uint16
}

const monitorInfoPrimary = 1 // MONITORINFOF_PRIMARY

// bitmapInfoHeader is BITMAPINFOHEADER; with no colour table it is the
// whole BITMAPINFO of a 32-bit DIB.
type bitmapInfoHeader struct {
	Size          uint32
	Width, Height int32
	Planes        uint16
	BitCount      uint16
	Compression   uint32
	SizeImage     uint32
	XPelsPerMeter int32
	YPelsPerMeter int32
	ClrUsed       uint32
	ClrImportant  uint32
}

// cursorInfo is CURSORINFO (24 bytes).
type cursorInfo struct {
	Size   uint32
	Flags  uint32
	Cursor uintptr
	X, Y   int32
}

// iconInfo is ICONINFO (32 bytes).
type iconInfo struct {
	Icon     int32
	XHotspot uint32
	YHotspot uint32
	Mask     uintptr
	Color    uintptr
}

const (
	cursorShowing = 1          // CURSOR_SHOWING
	diNormal      = 3          // DI_NORMAL
	srcCopy       = 0x00CC0020 // SRCCOPY
	captureBlt    = 0x40000000 // CAPTUREBLT: include layered windows
	dibRGBColors  = 0
)

// ptr passes a pointer to a system call.
func ptr[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }
