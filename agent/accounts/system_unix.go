//go:build linux || darwin

package accounts

import (
	"errors"
	"fmt"
	"os/user"
)

// userOrGroupExists reports whether the system's user database (NSS on
// Linux, Directory Services on macOS) knows a user or a group called name.
// Both count: useradd and dscl make a group of the new user's name, so a
// new name must clash with neither.
func userOrGroupExists(name string) (bool, error) {
	if _, err := user.Lookup(name); err == nil {
		return true, nil
	} else if !errors.As(err, new(user.UnknownUserError)) {
		return false, fmt.Errorf("%w: look up user %s: %w", ErrSystem, name, err)
	}
	if _, err := user.LookupGroup(name); err == nil {
		return true, nil
	} else if !errors.As(err, new(user.UnknownGroupError)) {
		return false, fmt.Errorf("%w: look up group %s: %w", ErrSystem, name, err)
	}
	return false, nil
}
