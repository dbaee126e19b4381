package localsock

import (
	"errors"
	"fmt"
	"net"
	"os/user"
	"strconv"
	"syscall"
)

// PeerUser asks the kernel who runs the process at the other end of c
// (SO_PEERCRED), never the client, and returns that account's name.
func PeerUser(c net.Conn) (string, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return "", fmt.Errorf("%w: not a unix socket", ErrPeer)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrPeer, err)
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return "", fmt.Errorf("%w: %w", ErrPeer, err)
	}
	if cerr != nil {
		return "", fmt.Errorf("%w: SO_PEERCRED: %w", ErrPeer, cerr)
	}
	u, err := user.LookupId(strconv.Itoa(int(cred.Uid)))
	if err != nil {
		if errors.As(err, new(user.UnknownUserIdError)) {
			return "", fmt.Errorf("%w: uid %d", ErrUnknownUser, cred.Uid)
		}
		return "", fmt.Errorf("%w: look up uid %d: %w", ErrPeer, cred.Uid, err)
	}
	return u.Username, nil
}
