package input

import (
	"fmt"
	"image"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// SendInput injects wire.Input events into the Windows desktop of this
// process's session with user32's SendInput: the pointer absolute across
// the virtual desktop, buttons, both wheels, keys by scan code (the same
// key table as Linux), text as Unicode characters, and Ctrl+Alt+Del through
// SendSAS where Windows permits it. It tracks the keys and buttons it holds
// down so that ReleaseAll leaves nothing stuck. It holds no process-wide
// state: several may exist at once. It is safe for concurrent use.
//
// The calling process must run on the input desktop of the user's session
// (the per-user helper, not the service in session 0): Windows drops
// input sent from elsewhere, and from a less privileged process into a
// more privileged window (UIPI), which SendInput reports as an error.
type SendInput struct {
	*core
}

// NewSendInput checks that the display rects lie on the virtual desktop
// and returns an injector. cfg.Display is not used on Windows.
func NewSendInput(cfg Config) (*SendInput, error) {
	if err := checkDisplays(cfg.Displays); err != nil {
		return nil, err
	}
	api := &user32API{sas: cfg.SAS}
	vs := api.virtualScreen()
	for i, d := range cfg.Displays {
		if r := image.Rect(d.X, d.Y, d.X+d.Width, d.Y+d.Height); !r.In(vs) {
			return nil, fmt.Errorf("%w: display %d (%v) not within the virtual desktop %v", ErrConfig, i, r, vs)
		}
	}
	return &SendInput{newCore(cfg, &winBackend{api: api}, "input")}, nil
}

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	procSendInput        = user32.NewProc("SendInput")
	procGetSystemMetrics = user32.NewProc("GetSystemMetrics")
	sasDLL               = windows.NewLazySystemDLL("sas.dll")
	procSendSAS          = sasDLL.NewProc("SendSAS")
)

// GetSystemMetrics indices of the virtual desktop.
const (
	smXVirtualScreen  = 76
	smYVirtualScreen  = 77
	smCXVirtualScreen = 78
	smCYVirtualScreen = 79
)

// user32API is winAPI on Windows.
type user32API struct {
	sas func() error // Config.SAS; nil: SendSAS in this process
}

func (*user32API) sendInput(ins []winInput) (int, error) {
	if len(ins) == 0 {
		return 0, nil
	}
	n, _, err := procSendInput.Call(uintptr(len(ins)), uintptr(unsafe.Pointer(&ins[0])), unsafe.Sizeof(ins[0]))
	return int(n), err
}

func metric(i uintptr) int {
	v, _, _ := procGetSystemMetrics.Call(i)
	return int(int32(v))
}

func (*user32API) virtualScreen() image.Rectangle {
	x, y := metric(smXVirtualScreen), metric(smYVirtualScreen)
	return image.Rect(x, y, x+metric(smCXVirtualScreen), y+metric(smCYVirtualScreen))
}

// sendSAS calls sas.dll's SendSAS(FALSE), as a service does, after checking
// what Windows would silently ignore: the caller must be LocalSystem and
// the SoftwareSASGeneration policy must admit services.
func (a *user32API) sendSAS() error {
	if a.sas != nil {
		return a.sas()
	}
	policy, set := sasPolicy()
	if err := sasPermitted(policy, set, isLocalSystem()); err != nil {
		return err
	}
	if err := procSendSAS.Find(); err != nil {
		return fmt.Errorf("sas.dll SendSAS: %w: %w", ErrUnsupported, err)
	}
	_, _, _ = procSendSAS.Call(0) // AsUser = FALSE: the caller is a service. SendSAS returns nothing.
	return nil
}

// sasPolicy reads the SoftwareSASGeneration policy; set is false when the
// value is absent (Windows then lets no one send it).
func sasPolicy() (policy uint32, set bool) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System`, registry.QUERY_VALUE)
	if err != nil {
		return 0, false
	}
	defer k.Close()
	v, _, err := k.GetIntegerValue("SoftwareSASGeneration")
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}

// isLocalSystem reports whether this process runs as LocalSystem (S-1-5-18).
func isLocalSystem() bool {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return false
	}
	return u.User.Sid.IsWellKnown(windows.WinLocalSystemSid)
}
