//go:build linux || darwin

package elevation

import (
	"fmt"
	"os/user"
)

// lookupUID is the system lookup of Linux and macOS: the uid of the local
// user name, or an error wrapping ErrBadUser for an unknown user or root
// (who is already an administrator).
func lookupUID(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadUser, err)
	}
	if u.Uid == "0" {
		return "", fmt.Errorf("%w: %s is already root", ErrBadUser, name)
	}
	return u.Uid, nil
}
