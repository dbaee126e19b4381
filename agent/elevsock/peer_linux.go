//go:build linux

package elevsock

import (
	"fmt"
	"net"
	"syscall"
)

// peerUID asks the kernel for the uid of the process at the other end.
func peerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, fmt.Errorf("%w: not a unix socket", ErrPeer)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("%w: %w", ErrPeer, err)
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return -1, fmt.Errorf("%w: %w", ErrPeer, err)
	}
	if cerr != nil {
		return -1, fmt.Errorf("%w: SO_PEERCRED: %w", ErrPeer, cerr)
	}
	return int(cred.Uid), nil
}
