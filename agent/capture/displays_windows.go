package capture

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"porthole/internal/wire"
)

// Displays lists the monitors of this session's desktop in virtual-desktop
// coordinates (the primary monitor's top-left is 0,0; others may lie left
// of or above it). Index 0 is the primary monitor, the others follow left
// to right, then top to bottom. Input addresses displays by these indices
// too. The sizes are physical pixels when the process is DPI aware (the
// agent makes itself per-monitor aware at start; see agent/platform).
func Displays() ([]wire.Display, error) {
	mons, err := enumMonitors()
	if err != nil {
		return nil, err
	}
	var out []wire.Display
	for _, h := range mons {
		mi := monitorInfoEx{Size: uint32(unsafe.Sizeof(monitorInfoEx{}))}
		if r, _, err := procGetMonitorInfoW.Call(h, ptr(&mi)); r == 0 {
			return nil, fmt.Errorf("GetMonitorInfo: %w", err)
		}
		m := mi.Monitor
		if m.Right <= m.Left || m.Bottom <= m.Top {
			continue
		}
		out = append(out, wire.Display{X: int(m.Left), Y: int(m.Top), Width: int(m.Right - m.Left),
			Height: int(m.Bottom - m.Top), Primary: mi.Flags&monitorInfoPrimary != 0})
	}
	if len(out) == 0 {
		return nil, ErrNoDisplay
	}
	sortDisplays(out)
	return out, nil
}

// EnumDisplayMonitors calls back with each monitor. One callback serves
// every call (Windows allows a process only so many callbacks); its lParam
// is a key into enumCalls, so no Go pointer passes through Windows.
var (
	enumCallback = sync.OnceValue(func() uintptr {
		return syscall.NewCallback(func(h, _, _, key uintptr) uintptr {
			if v, ok := enumCalls.Load(key); ok {
				l := v.(*monitorList)
				l.handles = append(l.handles, h)
			}
			return 1 // continue
		})
	})
	enumCalls sync.Map // uintptr key → *monitorList of a running enumeration
	enumSeq   atomic.Uintptr
)

type monitorList struct{ handles []uintptr }

func enumMonitors() ([]uintptr, error) {
	key := enumSeq.Add(1)
	l := &monitorList{}
	enumCalls.Store(key, l)
	defer enumCalls.Delete(key)
	if r, _, err := procEnumDisplayMonitors.Call(0, 0, enumCallback(), key); r == 0 {
		return nil, fmt.Errorf("EnumDisplayMonitors: %w", err)
	}
	return l.handles, nil
}
