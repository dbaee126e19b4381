package wine

import "errors"

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrNotInstalled means wine, wineserver or the mingw compiler is
	// missing. make deps installs them, so tests fail on it rather than skip.
	ErrNotInstalled = errors.New("wine: not installed (run make deps)")
	// ErrLeftover means Wine processes of a prefix outlived Close's
	// wineserver -k and had to be killed one by one.
	ErrLeftover = errors.New("wine: processes outlived wineserver -k")
	// ErrGoSource means the Go standard library source no longer has the
	// line the Wine overlay patches (see overlay.go): look at it again.
	ErrGoSource = errors.New("wine: Go source changed; the Wine overlay needs a look")
	// ErrNotSystemDLL means a Windows executable imports a DLL that Windows
	// does not ship (a mingw runtime or libvpx DLL): it was not linked
	// statically.
	ErrNotSystemDLL = errors.New("wine: exe imports a non-system DLL")
)
