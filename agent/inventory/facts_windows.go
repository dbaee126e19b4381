package inventory

import (
	"context"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"porthole/agent/winlocal"
)

// osName is the edition Windows reports, e.g. "Windows 10 Pro", with its
// release (e.g. "22H2") when known; "Windows" when the registry says
// nothing.
func osName() string {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Windows NT\CurrentVersion`, registry.QUERY_VALUE)
	if err != nil {
		return "Windows"
	}
	defer k.Close()
	name, _, err := k.GetStringValue("ProductName")
	if err != nil || name == "" {
		return "Windows"
	}
	if rel, _, err := k.GetStringValue("DisplayVersion"); err == nil && rel != "" {
		name += " (" + rel + ")"
	}
	return name
}

// loggedInUser is the user of the session at the console
// (WTSGetActiveConsoleSessionId, WTSQuerySessionInformation), named as the
// elevation pipe names its callers (winlocal.UserName): the service runs
// as SYSTEM, so its own account says nothing. "" when nobody is logged on
// at the console.
func loggedInUser(context.Context) string {
	s, err := winlocal.Win32{}.ConsoleSession()
	if err != nil || s.User == "" {
		return ""
	}
	computer, err := windows.ComputerName()
	if err != nil {
		return s.User
	}
	return winlocal.UserName(s.User, s.Domain, computer)
}
