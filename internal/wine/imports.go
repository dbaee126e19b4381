package wine

import (
	"debug/pe"
	"fmt"
	"slices"
	"strings"
)

// systemDLLs are DLLs every Windows 10/11 has. An agent exe may import
// these and nothing else: mingw's runtime DLLs (libwinpthread-1.dll,
// libgcc_s_seh-1.dll) or a libvpx DLL would be missing on a real endpoint.
var systemDLLs = []string{
	"advapi32.dll", "bcrypt.dll", "bcryptprimitives.dll", "comctl32.dll", "comdlg32.dll",
	"crypt32.dll", "d3d11.dll", "dbghelp.dll", "dnsapi.dll", "dwmapi.dll", "dxgi.dll",
	"gdi32.dll", "imm32.dll", "iphlpapi.dll", "kernel32.dll", "kernelbase.dll", "mpr.dll",
	"msvcrt.dll", "netapi32.dll", "ntdll.dll", "ole32.dll", "oleaut32.dll", "powrprof.dll",
	"psapi.dll", "rpcrt4.dll", "secur32.dll", "setupapi.dll", "shcore.dll", "shell32.dll",
	"shlwapi.dll", "user32.dll", "userenv.dll", "uxtheme.dll", "version.dll", "winmm.dll",
	"winspool.drv", "ws2_32.dll", "wtsapi32.dll",
}

// Imports lists the DLLs a Windows executable imports at load time.
func Imports(exe string) ([]string, error) {
	f, err := pe.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("wine: read %s: %w", exe, err)
	}
	defer f.Close()
	// debug/pe's ImportedLibraries is unimplemented (it returns nil);
	// ImportedSymbols gives "symbol:dll" for every import.
	syms, err := f.ImportedSymbols()
	if err != nil {
		return nil, fmt.Errorf("wine: imports of %s: %w", exe, err)
	}
	var libs []string
	for _, s := range syms {
		if _, dll, ok := strings.Cut(s, ":"); ok && !slices.Contains(libs, dll) {
			libs = append(libs, dll)
		}
	}
	return libs, nil
}

// CheckImports fails with ErrNotSystemDLL, naming them, when exe imports
// DLLs that Windows does not ship (the API-set names api-ms-win-* are
// Windows' own).
func CheckImports(exe string) error {
	libs, err := Imports(exe)
	if err != nil {
		return err
	}
	var bad []string
	for _, l := range libs {
		n := strings.ToLower(l)
		if !slices.Contains(systemDLLs, n) && !strings.HasPrefix(n, "api-ms-win-") {
			bad = append(bad, l)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s needs %s", ErrNotSystemDLL, exe, strings.Join(bad, ", "))
	}
	return nil
}
