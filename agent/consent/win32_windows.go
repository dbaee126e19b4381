package consent

// The Win32 side of the Windows dialogs: user32 calls, and two ways to run
// a window on a UI thread of its own (templates: dlgtemplate_windows.go):
//
//   - messageBox: MessageBoxW (the consent question, outcome notices);
//   - window: a modeless dialog from a template, with its own message loop
//     (the session indicator, the request form).
//
// Each runs on a goroutine locked to its OS thread for its whole life and
// never unlocked, so the thread (its message queue, its DPI awareness) ends
// with the dialog; Go exes that own windows must keep their UI on one thread
// (WINDOWS-NOTES). Other goroutines only post messages to it. Nothing here
// holds state beyond one dialog but the table from UI thread to window that
// the dialog procedure, a callback shared by the process, looks windows up
// in.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32 = windows.NewLazySystemDLL("user32.dll")

	procCreateDialogIndirectParamW = user32.NewProc("CreateDialogIndirectParamW")
	procDestroyWindow              = user32.NewProc("DestroyWindow")
	procDispatchMessageW           = user32.NewProc("DispatchMessageW")
	procFindWindowExW              = user32.NewProc("FindWindowExW")
	procGetDlgItem                 = user32.NewProc("GetDlgItem")
	procGetMessageW                = user32.NewProc("GetMessageW")
	procGetProcessWindowStation    = user32.NewProc("GetProcessWindowStation")
	procGetUserObjectInformationW  = user32.NewProc("GetUserObjectInformationW")
	procGetWindowRect              = user32.NewProc("GetWindowRect")
	procGetWindowTextLengthW       = user32.NewProc("GetWindowTextLengthW")
	procGetWindowTextW             = user32.NewProc("GetWindowTextW")
	procIsDialogMessageW           = user32.NewProc("IsDialogMessageW")
	procMapDialogRect              = user32.NewProc("MapDialogRect")
	procMessageBoxW                = user32.NewProc("MessageBoxW")
	procPostMessageW               = user32.NewProc("PostMessageW")
	procPostQuitMessage            = user32.NewProc("PostQuitMessage")
	procSendMessageW               = user32.NewProc("SendMessageW")
	procSetWindowPos               = user32.NewProc("SetWindowPos")
	procShowWindow                 = user32.NewProc("ShowWindow")
	procSystemParametersInfoW      = user32.NewProc("SystemParametersInfoW")
	procTranslateMessage           = user32.NewProc("TranslateMessage")

	// Windows 10 1607 and later; older systems keep the process's awareness.
	procSetThreadDpiAwarenessContext = user32.NewProc("SetThreadDpiAwarenessContext")
)

// requiredProcs are the calls the dialogs cannot work without.
var requiredProcs = []*windows.LazyProc{
	procCreateDialogIndirectParamW, procDestroyWindow, procDispatchMessageW, procFindWindowExW,
	procGetDlgItem, procGetMessageW, procGetWindowRect, procGetWindowTextLengthW, procGetWindowTextW,
	procIsDialogMessageW, procMapDialogRect, procMessageBoxW, procPostMessageW, procPostQuitMessage,
	procSendMessageW, procSetWindowPos, procShowWindow, procSystemParametersInfoW, procTranslateMessage,
}

// Win32 constants (winuser.h).
const (
	idOK     = 1
	idCancel = 2
	idYes    = 6
	idNo     = 7

	mbOK              = 0x00000000
	mbYesNo           = 0x00000004
	mbIconQuestion    = 0x00000020
	mbIconInformation = 0x00000040
	mbDefButton2      = 0x00000100
	mbSetForeground   = 0x00010000
	mbTopmost         = 0x00040000

	wsChild       = 0x40000000
	wsVisible     = 0x10000000
	wsPopup       = 0x80000000
	wsCaption     = 0x00C00000
	wsSysMenu     = 0x00080000
	wsBorder      = 0x00800000
	wsTabStop     = 0x00010000
	wsExTopmost   = 0x00000008
	wsExAppWindow = 0x00040000

	dsModalFrame     = 0x80
	dsSetFont        = 0x40
	dsSetForeground  = 0x200
	dsCenter         = 0x800
	bsPushButton     = 0x0
	bsDefPushButton  = 0x1
	esAutoHScroll    = 0x80
	ssLeft           = 0x0
	ssNoPrefix       = 0x80
	ssEditControl    = 0x2000
	atomButton       = 0x0080
	atomEdit         = 0x0081
	atomStatic       = 0x0082
	emLimitText      = 0x00C5
	wmInitDialog     = 0x0110
	wmCommand        = 0x0111
	wmApp            = 0x8000
	wmDismiss        = wmApp + 1 // close the window: the program, not the user
	swShow           = 5
	swShowNoActivate = 4
	swpNoSize        = 0x0001
	swpNoActivate    = 0x0010
	spiGetWorkArea   = 0x0030
	uoiFlags         = 1
	wsfVisible       = 1

	// DPI_AWARENESS_CONTEXT values are small negative handles.
	dpiPerMonitorAwareV2 = ^uintptr(3) // -4
	dpiPerMonitorAware   = ^uintptr(2) // -3
)

// hwndTopmost is HWND_TOPMOST, (HWND)-1.
const hwndTopmost = ^uintptr(0)

// dismissEvery is how often a dialog that must go is told again until it
// has gone (a message box may not exist yet when the first try is made).
const dismissEvery = 50 * time.Millisecond

// loadProcs reports the first required user32 call this system lacks.
func loadProcs() error {
	for _, p := range requiredProcs {
		if err := p.Find(); err != nil {
			return err
		}
	}
	return nil
}

// interactive reports whether this process's window station is the
// interactive one (WinSta0 of a logged-in session): a service's windows in
// session 0 are never seen, so asking there would always time out.
func interactive() error {
	if procGetProcessWindowStation.Find() != nil || procGetUserObjectInformationW.Find() != nil {
		return nil // cannot tell; the dialogs themselves will fail if they must
	}
	ws, _, err := procGetProcessWindowStation.Call()
	if ws == 0 {
		return fmt.Errorf("GetProcessWindowStation: %w", err)
	}
	var flags struct {
		inherit, reserved int32
		flags             uint32
	}
	var n uint32
	if r, _, err := procGetUserObjectInformationW.Call(ws, uoiFlags, uintptr(unsafe.Pointer(&flags)), unsafe.Sizeof(flags), uintptr(unsafe.Pointer(&n))); r == 0 {
		return fmt.Errorf("GetUserObjectInformation: %w", err)
	}
	if flags.flags&wsfVisible == 0 {
		return errors.New("this process's window station is not interactive (a service in session 0?): dialogs must be shown by the helper in the user's session")
	}
	return nil
}

// useDPIAwareness makes the calling UI thread per-monitor DPI aware, so its
// windows are laid out for the monitor they are on and drawn sharp; the
// thread's awareness, not the process's, so nothing else in the agent (screen
// capture's coordinates) changes.
func useDPIAwareness() {
	if procSetThreadDpiAwarenessContext.Find() != nil {
		return
	}
	for _, c := range []uintptr{dpiPerMonitorAwareV2, dpiPerMonitorAware} {
		if r, _, _ := procSetThreadDpiAwarenessContext.Call(c); r != 0 {
			return
		}
	}
}

// utf16z is s as a NUL-terminated UTF-16 string. NULs inside s are dropped
// (Windows would end the string there); invalid UTF-8 becomes U+FFFD.
func utf16z(s string) []uint16 {
	return append(utf16.Encode([]rune(strings.ReplaceAll(s, "\x00", ""))), 0)
}

// crlf turns "\n" line ends into "\r\n", which edit-style wrapping expects.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// ending says why a dialog went away.
type ending int

const (
	answered  ending = iota // the user closed it, or it failed
	timedOut                // its timeout passed
	cancelled               // its context ended
)

func (e ending) String() string {
	switch e {
	case timedOut:
		return "timed_out"
	case cancelled:
		return "cancelled"
	}
	return "answered"
}

// dismissable is a dialog shown on its own UI thread.
type dismissable interface {
	// gone is closed when the dialog has gone and its thread is done.
	gone() <-chan struct{}
	// dismiss asks the dialog to close; it may be called any number of
	// times, before or after the window exists.
	dismiss()
}

// await waits until d goes away by itself, or until timeout (none if not
// positive) passes or ctx ends: then it dismisses d, again every
// dismissEvery until it has gone, and says which.
func await(ctx context.Context, d dismissable, timeout time.Duration) ending {
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-d.gone():
		return answered
	case <-expired:
		remove(d)
		return timedOut
	case <-ctx.Done():
		remove(d)
		return cancelled
	}
}

// remove dismisses d, again every dismissEvery, until it has gone.
func remove(d dismissable) {
	tick := time.NewTicker(dismissEvery)
	defer tick.Stop()
	for {
		d.dismiss()
		select {
		case <-d.gone():
			return
		case <-tick.C:
		}
	}
}

// messageBox is one MessageBoxW on a UI thread of its own.
type messageBox struct {
	text, title []uint16
	flags       uint32
	// dismissID is the button a dismissal presses: one that means "no".
	dismissID uintptr

	tid   uint32        // the UI thread; set before start returns
	ended chan struct{} // closed after id and err are set
	id    int           // the button pressed
	err   error         // why MessageBoxW failed
}

func newMessageBox(title, text string, flags uint32, dismissID uintptr) *messageBox {
	return &messageBox{text: utf16z(text), title: utf16z(title), flags: flags, dismissID: dismissID}
}

// start shows the box; it returns once its UI thread runs.
func (b *messageBox) start() {
	b.ended = make(chan struct{})
	running := make(chan struct{})
	go func() {
		defer close(b.ended)
		runtime.LockOSThread() // never unlocked: the thread ends with the box
		b.tid = windows.GetCurrentThreadId()
		close(running)
		useDPIAwareness()
		r, _, err := procMessageBoxW.Call(0, uintptr(unsafe.Pointer(&b.text[0])), uintptr(unsafe.Pointer(&b.title[0])), uintptr(b.flags))
		if r == 0 {
			b.err = fmt.Errorf("MessageBox: %w", err)
		}
		b.id = int(r)
	}()
	<-running
}

func (b *messageBox) gone() <-chan struct{} { return b.ended }

// dismiss presses dismissID on the box: WM_COMMAND to each dialog window of
// the box's thread. A MessageBox with Yes and No cannot be closed (WM_CLOSE
// does nothing), and EndDialog works only on the dialog's own thread;
// WM_COMMAND is what its buttons send.
func (b *messageBox) dismiss() {
	class := utf16z("#32770")
	var h uintptr
	for {
		h, _, _ = procFindWindowExW.Call(0, h, uintptr(unsafe.Pointer(&class[0])), 0)
		if h == 0 {
			return
		}
		if tid, _ := windows.GetWindowThreadProcessId(windows.HWND(h), nil); tid == b.tid {
			procPostMessageW.Call(h, wmCommand, b.dismissID, 0)
		}
	}
}

// window is a modeless dialog, made from a template, on a UI thread of its
// own with its own message loop. IDOK and IDCANCEL (buttons, Enter, Escape,
// the close box) end it.
type window struct {
	tmpl []uint32
	// show is the ShowWindow command that first shows it.
	show uintptr
	// init runs on the UI thread when the dialog is made, before it shows.
	init func(hwnd uintptr)
	// focus gives the first control the keyboard focus when the window is
	// made, which activates it. Without it, the window takes the focus
	// only when the user clicks it.
	focus bool
	// edits are the ids of the controls whose text OK returns, in order.
	edits []uint16

	ended chan struct{} // closed when the window is gone and its thread done

	mu      sync.Mutex
	hwnd    uintptr // guarded by mu; non-zero while the window exists
	closing bool    // guarded by mu; dismiss was called

	// Set by the UI thread before ended is closed.
	result int      // idOK, idCancel, or wmDismiss when dismissed
	values []string // the edits' texts, when OK ended it
	err    error    // why the window could not be made or run
}

// windowsByThread maps each UI thread to its window, for dlgProc; registered
// before the dialog is made, removed after it has gone.
var windowsByThread = struct {
	sync.Mutex
	m map[uint32]*window
}{m: map[uint32]*window{}}

// dlgProcPtr is dlgProc as a Win32 callback; callbacks are never freed, so
// there is one for the process.
var dlgProcPtr = sync.OnceValue(func() uintptr { return windows.NewCallback(dlgProc) })

// dlgProc is the dialog procedure of every window; it runs on the window's
// UI thread.
func dlgProc(hwnd, msg, wParam, lParam uintptr) uintptr {
	windowsByThread.Lock()
	w := windowsByThread.m[windows.GetCurrentThreadId()]
	windowsByThread.Unlock()
	if w == nil {
		return 0
	}
	switch msg {
	case wmInitDialog:
		w.mu.Lock()
		w.hwnd = hwnd
		w.mu.Unlock()
		for _, id := range w.edits {
			if e, _, _ := procGetDlgItem.Call(hwnd, uintptr(id)); e != 0 {
				procSendMessageW.Call(e, emLimitText, maxFieldRunes, 0)
			}
		}
		if w.init != nil {
			w.init(hwnd)
		}
		if w.focus {
			return 1 // the dialog manager focuses the first control that takes it
		}
		return 0
	case wmCommand:
		if id := int(wParam & 0xFFFF); id == idOK || id == idCancel {
			w.finish(hwnd, id)
			return 1
		}
	case wmDismiss:
		w.finish(hwnd, wmDismiss)
		return 1
	}
	return 0
}

// maxFieldRunes bounds what an edit control takes: the longest field of a
// support request (its reason) is 1000 characters.
const maxFieldRunes = 1000

// finish records how the window ended and destroys it; UI thread only.
func (w *window) finish(hwnd uintptr, result int) {
	if result == idOK {
		for _, id := range w.edits {
			w.values = append(w.values, controlText(hwnd, id))
		}
	}
	w.result = result
	w.mu.Lock()
	w.hwnd = 0
	w.mu.Unlock()
	procDestroyWindow.Call(hwnd)
	procPostQuitMessage.Call(0)
}

// controlText is the text of dialog control id.
func controlText(dlg uintptr, id uint16) string {
	h, _, _ := procGetDlgItem.Call(dlg, uintptr(id))
	if h == 0 {
		return ""
	}
	n, _, _ := procGetWindowTextLengthW.Call(h)
	buf := make([]uint16, n+1)
	n, _, _ = procGetWindowTextW.Call(h, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	return string(utf16.Decode(buf[:n]))
}

// start makes and shows the window on a new UI thread. It returns when the
// window is up, or the error that kept it from being made.
func (w *window) start() error {
	w.ended = make(chan struct{})
	made := make(chan error, 1)
	go w.run(made)
	if err := <-made; err != nil {
		<-w.ended
		return err
	}
	return nil
}

func (w *window) run(made chan<- error) {
	defer close(w.ended)
	runtime.LockOSThread() // never unlocked: the thread ends with the window
	tid := windows.GetCurrentThreadId()
	useDPIAwareness()
	windowsByThread.Lock()
	windowsByThread.m[tid] = w
	windowsByThread.Unlock()
	defer func() {
		windowsByThread.Lock()
		delete(windowsByThread.m, tid)
		windowsByThread.Unlock()
	}()

	h, _, err := procCreateDialogIndirectParamW.Call(0, uintptr(unsafe.Pointer(&w.tmpl[0])), 0, dlgProcPtr(), 0)
	if h == 0 {
		w.err = fmt.Errorf("CreateDialogIndirectParam: %w", err)
		made <- w.err
		return
	}
	procShowWindow.Call(h, w.show)
	w.mu.Lock()
	dismissed := w.closing
	w.mu.Unlock()
	if dismissed {
		procPostMessageW.Call(h, wmDismiss, 0, 0)
	}
	made <- nil

	var m struct {
		hwnd           uintptr
		message        uint32
		wParam, lParam uintptr
		time           uint32
		x, y           int32
		private        uint32
	}
	for {
		r, _, err := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
		switch int32(r) {
		case 0: // WM_QUIT: finish destroyed the window
			return
		case -1:
			w.err = fmt.Errorf("GetMessage: %w", err)
			w.mu.Lock()
			h, w.hwnd = w.hwnd, 0
			w.mu.Unlock()
			if h != 0 {
				procDestroyWindow.Call(h)
			}
			return
		}
		// Tab, Enter, Escape and mnemonics work as in any dialog.
		if r, _, _ := procIsDialogMessageW.Call(h, uintptr(unsafe.Pointer(&m))); r == 0 {
			procTranslateMessage.Call(uintptr(unsafe.Pointer(&m)))
			procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
		}
	}
}

func (w *window) gone() <-chan struct{} { return w.ended }

// dismiss closes the window from any goroutine; result becomes wmDismiss.
func (w *window) dismiss() {
	w.mu.Lock()
	w.closing = true
	h := w.hwnd
	w.mu.Unlock()
	if h != 0 {
		procPostMessageW.Call(h, wmDismiss, 0, 0)
	}
}

// bottomRight moves dialog hwnd to the bottom-right corner of the primary
// monitor's work area (above the taskbar) and keeps it on top, without
// activating it.
func bottomRight(hwnd uintptr) {
	type rect struct{ left, top, right, bottom int32 }
	var work, win rect
	if r, _, _ := procSystemParametersInfoW.Call(spiGetWorkArea, 0, uintptr(unsafe.Pointer(&work)), 0); r == 0 {
		return
	}
	if r, _, _ := procGetWindowRect.Call(hwnd, uintptr(unsafe.Pointer(&win))); r == 0 {
		return
	}
	margin := rect{right: 6, bottom: 6} // dialog units, so it scales with the font and DPI
	procMapDialogRect.Call(hwnd, uintptr(unsafe.Pointer(&margin)))
	x := work.right - (win.right - win.left) - margin.right
	y := work.bottom - (win.bottom - win.top) - margin.bottom
	procSetWindowPos.Call(hwnd, hwndTopmost, uintptr(x), uintptr(y), 0, 0, swpNoSize|swpNoActivate)
}
