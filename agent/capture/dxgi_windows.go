package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// dxgi grabs one monitor with DXGI Desktop Duplication (Windows 8 and
// later): the compositor hands over each new desktop image with the
// rectangles that changed, and the pointer's position and shape apart from
// it. Only the changed rectangles are copied to a CPU-readable staging
// texture and read; the cursor is drawn on a copy (overlay).
//
// Windows gives a duplication only to a process on the input desktop of
// the console session (the per-user helper, not the service), and takes it
// back (DXGI_ERROR_ACCESS_LOST) when the desktop switches (UAC's secure
// desktop, the lock screen) or the mode changes: grab then fails and the
// session's capture is opened again. Wine implements none of it
// (DuplicateOutput answers E_NOTIMPL), so this file is verified only on
// real Windows; under Wine the GDI grabber serves.
type dxgi struct {
	rect    image.Rectangle // the output, virtual-desktop coordinates
	device  *comObject      // ID3D11Device
	context *comObject      // ID3D11DeviceContext
	dup     *comObject      // IDXGIOutputDuplication
	staging *comObject      // ID3D11Texture2D, CPU-readable copy of the desktop
	held    bool            // a frame is acquired and not yet released

	desk, out []byte // the desktop without and with the cursor, BGRX
	ov        overlay
	first     bool
	meta      []byte        // reused buffer for dirty and move rectangles
	lastCost  time.Duration // the last frame's copy and compose, without the wait
}

// comObject is a COM interface pointer: its first word is the vtable.
type comObject struct{ vtbl *[64]uintptr }

// call invokes method i of the vtable (IUnknown's are 0–2) and returns the
// HRESULT.
func (o *comObject) call(i int, args ...uintptr) hresult {
	r, _, _ := syscall.SyscallN(o.vtbl[i], append([]uintptr{uintptr(unsafe.Pointer(o))}, args...)...)
	return hresult(r)
}

func (o *comObject) release() {
	if o != nil {
		o.call(2)
	}
}

// queryInterface asks o for interface iid.
func (o *comObject) queryInterface(iid *windows.GUID) (*comObject, hresult) {
	var out *comObject
	hr := o.call(0, ptr(iid), ptr(&out))
	return out, hr
}

type hresult uint32

func (h hresult) failed() bool { return int32(h) < 0 }

func (h hresult) Error() string { return fmt.Sprintf("HRESULT %#08x", uint32(h)) }

// HRESULTs that decide what happens next. Others (E_ACCESSDENIED while
// the secure desktop shows, DXGI_ERROR_ACCESS_LOST after a desktop switch,
// DXGI_ERROR_NOT_CURRENTLY_AVAILABLE when too many duplicate the output)
// are errors that a later session may not meet.
const (
	eNotImpl           hresult = 0x80004001 // Wine's DuplicateOutput
	dxgiErrNotFound    hresult = 0x887A0002
	dxgiErrUnsupported hresult = 0x887A0004 // e.g. a Microsoft Basic Display Adapter session
	dxgiErrWaitTimeout hresult = 0x887A0027
)

// errHR turns a failed HRESULT into an error; the ones that mean "this
// machine cannot do it" wrap errors.ErrUnsupported, so the chooser stops
// trying DXGI.
func errHR(op string, hr hresult) error {
	switch hr {
	case eNotImpl, dxgiErrUnsupported, dxgiErrNotFound:
		return fmt.Errorf("%s: %w: %w", op, hr, errors.ErrUnsupported)
	}
	return fmt.Errorf("%s: %w", op, hr)
}

// vtable slots (checked against mingw-w64's d3d11.h and dxgi1_2.h; IUnknown's
// QueryInterface, AddRef and Release are 0–2).
const (
	// IDXGIFactory1
	vtEnumAdapters1 = 12
	// IDXGIAdapter
	vtEnumOutputs = 7
	// IDXGIOutput / IDXGIOutput1
	vtOutputGetDesc   = 7
	vtDuplicateOutput = 22
	// IDXGIOutputDuplication
	vtAcquireNextFrame     = 8
	vtGetFrameDirtyRects   = 9
	vtGetFrameMoveRects    = 10
	vtGetFramePointerShape = 11
	vtReleaseFrame         = 14
	// ID3D11Device
	vtCreateTexture2D = 5
	// ID3D11DeviceContext
	vtMap                   = 14
	vtUnmap                 = 15
	vtCopySubresourceRegion = 46
)

var (
	iidIDXGIFactory1   = windows.GUID{Data1: 0x770aae78, Data2: 0xf26f, Data3: 0x4dba, Data4: [8]byte{0xa8, 0x29, 0x25, 0x3c, 0x83, 0xd1, 0xb3, 0x87}}
	iidIDXGIOutput1    = windows.GUID{Data1: 0x00cddea8, Data2: 0x939b, Data3: 0x4b83, Data4: [8]byte{0xa3, 0x40, 0xa6, 0x85, 0x22, 0x66, 0x66, 0xcc}}
	iidID3D11Texture2D = windows.GUID{Data1: 0x6f15aaf2, Data2: 0xd208, Data3: 0x4e89, Data4: [8]byte{0x9a, 0xb4, 0x48, 0x95, 0x35, 0xd3, 0x4f, 0x9c}}

	dxgiDLL                = windows.NewLazySystemDLL("dxgi.dll")
	d3d11DLL               = windows.NewLazySystemDLL("d3d11.dll")
	procCreateDXGIFactory1 = dxgiDLL.NewProc("CreateDXGIFactory1")
	procD3D11CreateDevice  = d3d11DLL.NewProc("D3D11CreateDevice")
)

// outputDesc is DXGI_OUTPUT_DESC (96 bytes).
type outputDesc struct {
	DeviceName [32]uint16
	Desktop    winRect
	Attached   int32
	Rotation   uint32
	Monitor    uintptr
}

// frameInfo is DXGI_OUTDUPL_FRAME_INFO (48 bytes).
type frameInfo struct {
	LastPresentTime      int64
	LastMouseUpdateTime  int64
	AccumulatedFrames    uint32
	RectsCoalesced       int32
	ProtectedContentMask int32
	PointerX, PointerY   int32
	PointerVisible       int32
	TotalMetadataSize    uint32
	PointerShapeSize     uint32
}

// shapeInfo is DXGI_OUTDUPL_POINTER_SHAPE_INFO (24 bytes).
type shapeInfo struct {
	Type, Width, Height, Pitch uint32
	HotX, HotY                 int32
}

// texture2DDesc is D3D11_TEXTURE2D_DESC (44 bytes).
type texture2DDesc struct {
	Width, Height, MipLevels, ArraySize uint32
	Format                              uint32
	SampleCount, SampleQuality          uint32
	Usage, BindFlags, CPUAccessFlags    uint32
	MiscFlags                           uint32
}

// mapped is D3D11_MAPPED_SUBRESOURCE.
type mapped struct {
	Data       unsafe.Pointer
	RowPitch   uint32
	DepthPitch uint32
}

// box is D3D11_BOX.
type box struct{ Left, Top, Front, Right, Bottom, Back uint32 }

// moveRect is DXGI_OUTDUPL_MOVE_RECT: a source point and a destination.
type moveRect struct {
	SrcX, SrcY int32
	Dst        winRect
}

const (
	formatB8G8R8A8    = 87      // DXGI_FORMAT_B8G8R8A8_UNORM
	usageStaging      = 3       // D3D11_USAGE_STAGING
	cpuAccessRead     = 0x20000 // D3D11_CPU_ACCESS_READ
	mapRead           = 1       // D3D11_MAP_READ
	sdkVersion        = 7       // D3D11_SDK_VERSION
	driverUnknown     = 0       // D3D_DRIVER_TYPE_UNKNOWN (an adapter is given)
	rotationIdentity  = 1       // DXGI_MODE_ROTATION_IDENTITY
	rotationUnspecced = 0
	acquireWait       = 100 // ms AcquireNextFrame waits before grab checks its context
)

// openDXGI duplicates the output whose desktop area is rect.
func openDXGI(rect image.Rectangle, _ Options) (g grabber, err error) {
	if err := procCreateDXGIFactory1.Find(); err != nil {
		return nil, fmt.Errorf("dxgi.dll: %w: %w", err, errors.ErrUnsupported)
	}
	var factory *comObject
	if hr := hresult(callProc(procCreateDXGIFactory1, ptr(&iidIDXGIFactory1), ptr(&factory))); hr.failed() {
		return nil, errHR("CreateDXGIFactory1", hr)
	}
	defer factory.release()
	adapter, output, err := findOutput(factory, rect)
	if err != nil {
		return nil, err
	}
	defer adapter.release()
	defer output.release()

	d := &dxgi{rect: rect, first: true}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	var level uint32
	if hr := hresult(callProc(procD3D11CreateDevice, uintptr(unsafe.Pointer(adapter)), driverUnknown, 0, 0, 0, 0, sdkVersion,
		ptr(&d.device), ptr(&level), ptr(&d.context))); hr.failed() {
		return nil, errHR("D3D11CreateDevice", hr)
	}
	out1, hr := output.queryInterface(&iidIDXGIOutput1)
	if hr.failed() {
		return nil, errHR("IDXGIOutput1 (Windows 8 or later)", hr)
	}
	defer out1.release()
	if hr := out1.call(vtDuplicateOutput, uintptr(unsafe.Pointer(d.device)), ptr(&d.dup)); hr.failed() {
		return nil, errHR("DuplicateOutput", hr)
	}
	w, h := rect.Dx(), rect.Dy()
	desc := texture2DDesc{Width: uint32(w), Height: uint32(h), MipLevels: 1, ArraySize: 1, Format: formatB8G8R8A8,
		SampleCount: 1, Usage: usageStaging, CPUAccessFlags: cpuAccessRead}
	if hr := d.device.call(vtCreateTexture2D, ptr(&desc), 0, ptr(&d.staging)); hr.failed() {
		return nil, errHR("CreateTexture2D (staging)", hr)
	}
	d.desk = make([]byte, w*h*4)
	d.out = make([]byte, w*h*4)
	return d, nil
}

// callProc calls a DLL export and returns its first result.
func callProc(p *windows.LazyProc, args ...uintptr) uintptr {
	r, _, _ := p.Call(args...)
	return r
}

// findOutput finds the adapter output showing exactly rect, not rotated
// (a rotated output's image comes unrotated: GDI handles those).
func findOutput(factory *comObject, rect image.Rectangle) (adapter, output *comObject, err error) {
	for a := uintptr(0); ; a++ {
		var ad *comObject
		if hr := factory.call(vtEnumAdapters1, a, ptr(&ad)); hr.failed() {
			return nil, nil, fmt.Errorf("no DXGI output shows %v: %w", rect, errors.ErrUnsupported)
		}
		for o := uintptr(0); ; o++ {
			var out *comObject
			if hr := ad.call(vtEnumOutputs, o, ptr(&out)); hr.failed() {
				break
			}
			var desc outputDesc
			if hr := out.call(vtOutputGetDesc, ptr(&desc)); !hr.failed() && desc.Attached != 0 {
				r := image.Rect(int(desc.Desktop.Left), int(desc.Desktop.Top), int(desc.Desktop.Right), int(desc.Desktop.Bottom))
				if evenRect(r) == rect {
					if desc.Rotation != rotationIdentity && desc.Rotation != rotationUnspecced {
						out.release()
						ad.release()
						return nil, nil, fmt.Errorf("output %v is rotated: %w", rect, errors.ErrUnsupported)
					}
					return ad, out, nil
				}
			}
			out.release()
		}
		ad.release()
	}
}

func (d *dxgi) pixels() ([]byte, int) { return d.out, d.rect.Dx() * 4 }

func (d *dxgi) cost() time.Duration { return d.lastCost }

// grab waits for the compositor's next frame, in slices of acquireWait so
// that it notices ctx. A full grab after the first frame takes what is
// pending without waiting and returns the whole image.
func (d *dxgi) grab(ctx context.Context, full bool) (image.Rectangle, error) {
	whole := image.Rect(0, 0, d.rect.Dx(), d.rect.Dy())
	for {
		if err := ctx.Err(); err != nil {
			return image.Rectangle{}, err
		}
		wait := uintptr(acquireWait)
		if full && !d.first {
			wait = 0
		}
		changed, got, err := d.acquire(wait)
		switch {
		case err != nil:
			return image.Rectangle{}, err
		case got && d.first:
			d.first = false
			return whole, nil
		case full && !d.first:
			return whole, nil
		case !changed.Empty():
			return changed, nil
		}
	}
}

// acquire waits up to wait ms for a new frame, copies what changed into
// desk and out, and returns the changed area of out; got says a frame came.
func (d *dxgi) acquire(wait uintptr) (changed image.Rectangle, got bool, err error) {
	if d.held {
		d.dup.call(vtReleaseFrame)
		d.held = false
	}
	var fi frameInfo
	var res *comObject
	hr := d.dup.call(vtAcquireNextFrame, wait, ptr(&fi), ptr(&res))
	if hr == dxgiErrWaitTimeout {
		return image.Rectangle{}, false, nil
	}
	if hr.failed() {
		// ACCESS_LOST: the desktop switched or the mode changed; the
		// caller opens capture again.
		return image.Rectangle{}, false, errHR("AcquireNextFrame", hr)
	}
	d.held = true
	t0 := time.Now()
	defer func() {
		d.dup.call(vtReleaseFrame)
		d.held = false
		d.lastCost = time.Since(t0)
	}()
	defer res.release()
	bounds := image.Rect(0, 0, d.rect.Dx(), d.rect.Dy())
	var dirty image.Rectangle
	if d.first || fi.LastPresentTime != 0 {
		if d.first {
			dirty = bounds // the first frame is the whole desktop
		} else if dirty, err = d.frameRects(fi.TotalMetadataSize); err != nil {
			return image.Rectangle{}, true, err
		}
		if dirty = dirty.Intersect(bounds); !dirty.Empty() {
			if err := d.copyDesktop(res, dirty); err != nil {
				return image.Rectangle{}, true, err
			}
		}
	}
	// The pointer: its position (the shape's top-left, relative to this
	// output) when it moved, its shape when that changed.
	if fi.LastMouseUpdateTime != 0 {
		d.ov.visible = fi.PointerVisible != 0
		d.ov.pos = image.Pt(int(fi.PointerX), int(fi.PointerY))
	}
	if fi.PointerShapeSize > 0 {
		if err := d.pointerShape(fi.PointerShapeSize); err != nil {
			return image.Rectangle{}, true, err
		}
	}
	return d.ov.compose(d.desk, d.out, d.rect.Dx()*4, bounds, dirty), true, nil
}

// frameRects is the bounding box of the frame's move destinations and
// dirty rectangles.
func (d *dxgi) frameRects(size uint32) (image.Rectangle, error) {
	if size == 0 {
		return image.Rectangle{}, nil
	}
	if uint32(len(d.meta)) < size {
		d.meta = make([]byte, size)
	}
	var box image.Rectangle
	var n uint32
	if hr := d.dup.call(vtGetFrameMoveRects, uintptr(size), uintptr(unsafe.Pointer(&d.meta[0])), ptr(&n)); hr.failed() {
		return box, errHR("GetFrameMoveRects", hr)
	}
	moves := unsafe.Slice((*moveRect)(unsafe.Pointer(&d.meta[0])), n/uint32(unsafe.Sizeof(moveRect{})))
	for _, m := range moves {
		box = box.Union(image.Rect(int(m.Dst.Left), int(m.Dst.Top), int(m.Dst.Right), int(m.Dst.Bottom)))
	}
	if hr := d.dup.call(vtGetFrameDirtyRects, uintptr(size), uintptr(unsafe.Pointer(&d.meta[0])), ptr(&n)); hr.failed() {
		return box, errHR("GetFrameDirtyRects", hr)
	}
	rects := unsafe.Slice((*winRect)(unsafe.Pointer(&d.meta[0])), n/uint32(unsafe.Sizeof(winRect{})))
	for _, r := range rects {
		box = box.Union(image.Rect(int(r.Left), int(r.Top), int(r.Right), int(r.Bottom)))
	}
	return box, nil
}

// copyDesktop copies area r of the acquired desktop image into desk,
// through the staging texture.
func (d *dxgi) copyDesktop(res *comObject, r image.Rectangle) error {
	tex, hr := res.queryInterface(&iidID3D11Texture2D)
	if hr.failed() {
		return errHR("desktop image as ID3D11Texture2D", hr)
	}
	defer tex.release()
	b := box{Left: uint32(r.Min.X), Top: uint32(r.Min.Y), Right: uint32(r.Max.X), Bottom: uint32(r.Max.Y), Back: 1}
	d.context.call(vtCopySubresourceRegion, uintptr(unsafe.Pointer(d.staging)), 0, uintptr(r.Min.X), uintptr(r.Min.Y), 0,
		uintptr(unsafe.Pointer(tex)), 0, ptr(&b))
	var m mapped
	if hr := d.context.call(vtMap, uintptr(unsafe.Pointer(d.staging)), 0, mapRead, 0, ptr(&m)); hr.failed() {
		return errHR("Map (staging)", hr)
	}
	defer d.context.call(vtUnmap, uintptr(unsafe.Pointer(d.staging)), 0)
	src := unsafe.Slice((*byte)(m.Data), int(m.RowPitch)*d.rect.Dy())
	stride := d.rect.Dx() * 4
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(d.desk[y*stride+r.Min.X*4:y*stride+r.Max.X*4], src[y*int(m.RowPitch)+r.Min.X*4:y*int(m.RowPitch)+r.Max.X*4])
	}
	return nil
}

// pointerShape reads the new cursor image.
func (d *dxgi) pointerShape(size uint32) error {
	buf := make([]byte, size)
	var need uint32
	var si shapeInfo
	if hr := d.dup.call(vtGetFramePointerShape, uintptr(size), uintptr(unsafe.Pointer(&buf[0])), ptr(&need), ptr(&si)); hr.failed() {
		return errHR("GetFramePointerShape", hr)
	}
	s := &pointerShape{typ: si.Type, w: int(si.Width), h: int(si.Height), pitch: int(si.Pitch), data: buf}
	if s.typ == shapeMonochrome {
		s.h /= 2
	}
	rows := s.h
	if s.typ == shapeMonochrome {
		rows *= 2
	}
	bpp := 32
	if s.typ == shapeMonochrome {
		bpp = 1
	}
	if s.w <= 0 || s.h <= 0 || s.pitch*rows > len(buf) || s.pitch*8 < s.w*bpp {
		d.ov.shape = nil // malformed: draw no cursor rather than read past the buffer
		return nil
	}
	d.ov.shape = s
	return nil
}

func (d *dxgi) close() error {
	if d.held {
		d.dup.call(vtReleaseFrame)
		d.held = false
	}
	d.staging.release()
	d.dup.release()
	d.context.release()
	d.device.release()
	*d = dxgi{}
	return nil
}

// The compile-time guard that both grabbers fit Screen.
var (
	_ grabber = (*dxgi)(nil)
	_ grabber = (*gdi)(nil)
)
