package inventory

import (
	"context"
	"os/user"

	"golang.org/x/sys/windows/registry"
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

// loggedInUser is the account the agent runs as. The Windows service
// (SYSTEM) will ask the console session for its user instead (issue #17's
// service model).
func loggedInUser(context.Context) string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
