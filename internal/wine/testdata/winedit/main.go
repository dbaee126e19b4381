//go:build windows

// Command winedit is a Windows window with an edit control, for input tests
// under Wine (Wine delivers SendInput only to Wine windows): it prints a
// JSON line on stdout when it is ready and each time the edit's text
// changes, so a test on Linux reads back what was typed (internal/wine's
// Edit). The edit starts without the keyboard focus: a click on it gives
// it the focus, so text arrives only after a click landed on it.
//
//	winedit TITLE X Y W H
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	kernel32             = windows.NewLazySystemDLL("kernel32.dll")
	procRegisterClassExW = user32.NewProc("RegisterClassExW")
	procCreateWindowExW  = user32.NewProc("CreateWindowExW")
	procDefWindowProcW   = user32.NewProc("DefWindowProcW")
	procGetMessageW      = user32.NewProc("GetMessageW")
	procTranslateMessage = user32.NewProc("TranslateMessage")
	procDispatchMessageW = user32.NewProc("DispatchMessageW")
	procGetWindowTextW   = user32.NewProc("GetWindowTextW")
	procPostQuitMessage  = user32.NewProc("PostQuitMessage")
	procSetForegroundWnd = user32.NewProc("SetForegroundWindow")
	procGetModuleHandleW = kernel32.NewProc("GetModuleHandleW")
)

const (
	wsPopup       = 0x80000000
	wsVisible     = 0x10000000
	wsChild       = 0x40000000
	wsBorder      = 0x00800000
	wsExTopmost   = 0x00000008
	esMultiline   = 0x0004
	esAutoVScroll = 0x0040
	wmDestroy     = 0x0002
	wmCommand     = 0x0111
	enChange      = 0x0300
	editID        = 1
)

type wndClassEx struct {
	Size       uint32
	Style      uint32
	WndProc    uintptr
	ClsExtra   int32
	WndExtra   int32
	Instance   uintptr
	Icon       uintptr
	Cursor     uintptr
	Background uintptr
	MenuName   *uint16
	ClassName  *uint16
	IconSm     uintptr
}

type msg struct {
	Hwnd    uintptr
	Message uint32
	WParam  uintptr
	LParam  uintptr
	Time    uint32
	X, Y    int32
	Private uint32
}

var edit uintptr

func emit(v any) {
	b, _ := json.Marshal(v)
	os.Stdout.Write(append(b, '\n'))
}

func wndProc(hwnd, m, wp, lp uintptr) uintptr {
	switch m {
	case wmCommand:
		if wp&0xffff == editID && wp>>16 == enChange {
			buf := make([]uint16, 8192)
			n, _, _ := procGetWindowTextW.Call(edit, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
			emit(map[string]string{"text": windows.UTF16ToString(buf[:n])})
		}
		return 0
	case wmDestroy:
		procPostQuitMessage.Call(0)
		return 0
	}
	r, _, _ := procDefWindowProcW.Call(hwnd, m, wp, lp)
	return r
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: winedit TITLE X Y W H")
		os.Exit(2)
	}
	var geo [4]int
	for i := range geo {
		v, err := strconv.Atoi(os.Args[2+i])
		if err != nil {
			fmt.Fprintln(os.Stderr, "winedit:", err)
			os.Exit(2)
		}
		geo[i] = v
	}
	// Windows belong to the thread that made them, and their messages come
	// only to it.
	runtime.LockOSThread()
	inst, _, _ := procGetModuleHandleW.Call(0)
	class, _ := windows.UTF16PtrFromString("PortholeWinedit")
	wc := wndClassEx{WndProc: syscall.NewCallback(wndProc), Instance: inst, ClassName: class, Background: 6 /* COLOR_WINDOW+1 */}
	wc.Size = uint32(unsafe.Sizeof(wc))
	if r, _, err := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
		fmt.Fprintln(os.Stderr, "winedit: RegisterClassEx:", err)
		os.Exit(1)
	}
	title, _ := windows.UTF16PtrFromString(os.Args[1])
	top, _, err := procCreateWindowExW.Call(wsExTopmost, uintptr(unsafe.Pointer(class)), uintptr(unsafe.Pointer(title)),
		wsPopup|wsVisible|wsBorder, uintptr(geo[0]), uintptr(geo[1]), uintptr(geo[2]), uintptr(geo[3]), 0, 0, inst, 0)
	if top == 0 {
		fmt.Fprintln(os.Stderr, "winedit: CreateWindowEx:", err)
		os.Exit(1)
	}
	editClass, _ := windows.UTF16PtrFromString("EDIT")
	edit, _, err = procCreateWindowExW.Call(0, uintptr(unsafe.Pointer(editClass)), 0,
		wsChild|wsVisible|esMultiline|esAutoVScroll, 4, 4, uintptr(geo[2]-8), uintptr(geo[3]-8), top, editID, inst, 0)
	if edit == 0 {
		fmt.Fprintln(os.Stderr, "winedit: CreateWindowEx(EDIT):", err)
		os.Exit(1)
	}
	procSetForegroundWnd.Call(top)
	emit(map[string]bool{"ready": true})
	var m msg
	for {
		r, _, _ := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
		if int32(r) <= 0 {
			return
		}
		procTranslateMessage.Call(uintptr(unsafe.Pointer(&m)))
		procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
	}
}
