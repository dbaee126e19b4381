package winlocal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// spiLayout gives the offsets of the SYSTEM_PROCESS_INFORMATION fields
// Processes reads. Fields are read from bytes at these offsets instead of
// through a struct pointer: Windows aligns each entry to 8 bytes, Wine 8
// does not.
type spiLayout struct {
	createTime, nameLen, nameBuf, pid, ppid, session int
	ptrSize                                          int
}

// spi64 and spi32 are the layouts of 64- and 32-bit Windows; win32 tests
// check them against golang.org/x/sys/windows.SYSTEM_PROCESS_INFORMATION.
var (
	spi64 = spiLayout{createTime: 32, nameLen: 56, nameBuf: 64, pid: 80, ppid: 88, session: 100, ptrSize: 8}
	spi32 = spiLayout{createTime: 32, nameLen: 56, nameBuf: 60, pid: 68, ppid: 72, session: 80, ptrSize: 4}
)

// minSize is the smallest entry that holds every field read.
func (l spiLayout) minSize() int { return l.session + 4 }

func (l spiLayout) ptr(b []byte, off int) uint64 {
	if l.ptrSize == 8 {
		return binary.LittleEndian.Uint64(b[off:])
	}
	return uint64(binary.LittleEndian.Uint32(b[off:]))
}

// errProcessList means the kernel's process list did not parse.
var errProcessList = errors.New("winlocal: malformed process list")

// parseProcesses walks the chain of SYSTEM_PROCESS_INFORMATION entries in
// b, which NtQuerySystemInformation filled at address base (image names
// point into b). The idle process (PID 0) is left out.
func parseProcesses(b []byte, base uint64, l spiLayout) ([]Process, error) {
	var out []Process
	for off := 0; ; {
		if off+l.minSize() > len(b) {
			return nil, fmt.Errorf("%w: entry at %d of %d bytes", errProcessList, off, len(b))
		}
		p := Process{
			PID:       uint32(l.ptr(b, off+l.pid)),
			PPID:      uint32(l.ptr(b, off+l.ppid)),
			Created:   int64(binary.LittleEndian.Uint64(b[off+l.createTime:])),
			SessionID: binary.LittleEndian.Uint32(b[off+l.session:]),
		}
		n := int(binary.LittleEndian.Uint16(b[off+l.nameLen:]))
		if at := l.ptr(b, off+l.nameBuf); n > 0 && n <= len(b) && at >= base && at-base <= uint64(len(b)-n) {
			i := int(at - base)
			u := make([]uint16, n/2)
			for k := range u {
				u[k] = binary.LittleEndian.Uint16(b[i+2*k:])
			}
			p.Image = string(utf16.Decode(u))
		}
		if p.PID != 0 {
			out = append(out, p)
		}
		next := int(binary.LittleEndian.Uint32(b[off:]))
		switch {
		case next == 0:
			return out, nil
		case next < l.minSize():
			return nil, fmt.Errorf("%w: entry at %d overlaps the next", errProcessList, off)
		}
		off += next
	}
}
