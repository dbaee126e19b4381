package input

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"unicode/utf16"

	"porthole/internal/wire"
)

// The Windows SendInput backend, without the system calls: which INPUT
// records each event becomes, and the Ctrl+Alt+Del rule. It compiles on
// every OS so that its tests run anywhere; sendinput_windows.go gives it
// user32 and sas.dll.

// winAPI is what the SendInput backend needs from Windows.
type winAPI interface {
	// sendInput is user32's SendInput: it returns how many records were
	// inserted into the input stream.
	sendInput(ins []winInput) (int, error)
	// virtualScreen is the virtual desktop (SM_XVIRTUALSCREEN…).
	virtualScreen() image.Rectangle
	// sendSAS sends the secure attention sequence (Ctrl+Alt+Del).
	sendSAS() error
}

// winInput is user32's INPUT on 64-bit Windows: a type and a 32-byte union
// of MOUSEINPUT and KEYBDINPUT (40 bytes, checked by a test).
type winInput struct {
	typ uint32
	_   uint32
	u   [32]byte
}

// INPUT types and the flags of MOUSEINPUT and KEYBDINPUT (winuser.h).
const (
	inputMouse    = 0
	inputKeyboard = 1

	mouseMove        = 0x0001
	mouseLeftDown    = 0x0002
	mouseLeftUp      = 0x0004
	mouseRightDown   = 0x0008
	mouseRightUp     = 0x0010
	mouseMiddleDown  = 0x0020
	mouseMiddleUp    = 0x0040
	mouseWheel       = 0x0800
	mouseHWheel      = 0x1000
	mouseVirtualDesk = 0x4000
	mouseAbsolute    = 0x8000

	keyExtended = 0x0001
	keyUp       = 0x0002
	keyUnicode  = 0x0004
	keyScancode = 0x0008

	wheelDelta = 120 // one notch
	vkPause    = 0x13
)

// mouseInput is a MOUSEINPUT {dx, dy, mouseData, dwFlags, time, extra}.
func mouseInput(dx, dy int32, data uint32, flags uint32) winInput {
	in := winInput{typ: inputMouse}
	binary.LittleEndian.PutUint32(in.u[0:], uint32(dx))
	binary.LittleEndian.PutUint32(in.u[4:], uint32(dy))
	binary.LittleEndian.PutUint32(in.u[8:], data)
	binary.LittleEndian.PutUint32(in.u[12:], flags)
	return in
}

// keyInput is a KEYBDINPUT {wVk, wScan, dwFlags, time, extra}.
func keyInput(vk, scan uint16, flags uint32) winInput {
	in := winInput{typ: inputKeyboard}
	binary.LittleEndian.PutUint16(in.u[0:], vk)
	binary.LittleEndian.PutUint16(in.u[2:], scan)
	binary.LittleEndian.PutUint32(in.u[4:], flags)
	return in
}

// absolute maps pixel (x, y) of the virtual desktop vs to SendInput's
// normalised 0..65535 coordinates (MOUSEEVENTF_ABSOLUTE|VIRTUALDESK).
// Windows maps a coordinate n back to pixel left + n*width/65536 (rounded
// down), so aiming at the pixel's centre, n = (2p+1)*65536 / 2width, lands
// on p exactly for every size, and stays below 65536.
func absolute(x, y int, vs image.Rectangle) (int32, int32) {
	norm := func(p, origin, size int) int32 {
		p = min(max(p-origin, 0), size-1)
		return int32((2*int64(p) + 1) * 65536 / (2 * int64(size)))
	}
	return norm(x, vs.Min.X, vs.Dx()), norm(y, vs.Min.Y, vs.Dy())
}

// keyRecord is the record that presses or releases k: by scan code, with
// the extended flag for 0xE0xx codes, and the US virtual key for Wine
// (Windows ignores it then); Pause by virtual key only, because its scan
// sequence (E1 1D 45) has no single-code form.
func keyRecord(k key, down bool) winInput {
	var flags uint32
	if !down {
		flags |= keyUp
	}
	if k.vk == vkPause {
		return keyInput(vkPause, k.scan, flags)
	}
	flags |= keyScancode
	if k.scan&0xff00 == 0xe000 {
		flags |= keyExtended
	}
	return keyInput(k.vk, k.scan&0xff, flags)
}

// pasteChunk is how many runes a paste sends per SendInput call, so that
// a long paste stops soon after its context ends.
const pasteChunk = 64

// pasteRecords types runes: '\n' and '\t' as the Enter and Tab keys (what
// edit controls expect), everything else as KEYEVENTF_UNICODE characters,
// with surrogate pairs beyond the BMP.
func pasteRecords(runes []rune) []winInput {
	out := make([]winInput, 0, 4*len(runes))
	for _, r := range runes {
		switch r {
		case '\n':
			out = append(out, keyRecord(keys["Enter"], true), keyRecord(keys["Enter"], false))
		case '\t':
			out = append(out, keyRecord(keys["Tab"], true), keyRecord(keys["Tab"], false))
		default:
			for _, u := range utf16.Encode([]rune{r}) {
				out = append(out, keyInput(0, u, keyUnicode), keyInput(0, u, keyUnicode|keyUp))
			}
		}
	}
	return out
}

// winBackend injects through winAPI.
type winBackend struct{ api winAPI }

var _ sasBackend = (*winBackend)(nil)

// send inserts ins, or says how many Windows refused: SendInput inserts
// nothing when input is blocked (UIPI: the foreground window belongs to a
// more privileged process; or this thread is not on the input desktop).
func (b *winBackend) send(ins ...winInput) error {
	n, err := b.api.sendInput(ins)
	if n == len(ins) {
		return nil
	}
	return fmt.Errorf("input: SendInput inserted %d of %d events (blocked by a more privileged window or another desktop): %w", n, len(ins), err)
}

func (b *winBackend) move(x, y int) error {
	nx, ny := absolute(x, y, b.api.virtualScreen())
	return b.send(mouseInput(nx, ny, 0, mouseMove|mouseAbsolute|mouseVirtualDesk))
}

var buttonFlags = [...][2]uint32{
	wire.ButtonLeft:   {mouseLeftUp, mouseLeftDown},
	wire.ButtonMiddle: {mouseMiddleUp, mouseMiddleDown},
	wire.ButtonRight:  {mouseRightUp, mouseRightDown},
}

func (b *winBackend) button(btn wire.Button, down bool) error {
	f := buttonFlags[btn][0]
	if down {
		f = buttonFlags[btn][1]
	}
	return b.send(mouseInput(0, 0, 0, f))
}

// wheel: Windows' vertical wheel is positive away from the user (up), the
// horizontal one positive to the right; the wire is positive down and right.
func (b *winBackend) wheel(dx, dy int) error {
	var ins []winInput
	if dy != 0 {
		ins = append(ins, mouseInput(0, 0, uint32(int32(-dy*wheelDelta)), mouseWheel))
	}
	if dx != 0 {
		ins = append(ins, mouseInput(0, 0, uint32(int32(dx*wheelDelta)), mouseHWheel))
	}
	return b.send(ins...)
}

func (b *winBackend) key(code string, down bool) error {
	if err := b.send(keyRecord(keys[code], down)); err != nil {
		return fmt.Errorf("input: key %s %s: %w", code, upDown(down), err)
	}
	return nil
}

// checkPaste accepts every text the wire does: Unicode input types any
// character.
func (*winBackend) checkPaste(string) error { return nil }

func (b *winBackend) paste(ctx context.Context, text string) error {
	runes := []rune(text)
	for len(runes) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("input: paste: %w", err)
		}
		n := min(len(runes), pasteChunk)
		if err := b.send(pasteRecords(runes[:n])...); err != nil {
			return fmt.Errorf("input: paste: %w", err)
		}
		runes = runes[n:]
	}
	return nil
}

func (b *winBackend) sas() error { return b.api.sendSAS() }

func (*winBackend) close() error { return nil }

// The SoftwareSASGeneration policy values (HKLM\SOFTWARE\Microsoft\Windows\
// CurrentVersion\Policies\System): who may call SendSAS.
const (
	sasNone     = 0
	sasServices = 1
	sasEase     = 2
	sasBoth     = 3
)

// errSASDenied wraps why this process may not send Ctrl+Alt+Del.
var errSASDenied = errors.New("input: this process may not send Ctrl+Alt+Del")

// sasPermitted says whether SendSAS(FALSE) will work: Windows honours it
// only from a service running as LocalSystem, and only when the
// SoftwareSASGeneration policy lets services send it (1 or 3).
func sasPermitted(policy uint32, policySet, system bool) error {
	switch {
	case !system:
		return fmt.Errorf("%w: only the agent's Windows service (LocalSystem) can: %w", errSASDenied, ErrUnsupported)
	case !policySet || (policy != sasServices && policy != sasBoth):
		return fmt.Errorf("%w: the SoftwareSASGeneration policy (%d) does not allow services; set it to 1 (Computer Configuration > Administrative Templates > Windows Components > Windows Logon Options > Disable or enable software Secure Attention Sequence: Services): %w",
			errSASDenied, policy, ErrUnsupported)
	}
	return nil
}
