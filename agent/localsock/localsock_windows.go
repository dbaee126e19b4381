package localsock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"

	"porthole/agent/winlocal"
)

// Windows: named pipes, made with the documented kernel32 calls
// (CreateNamedPipe, ConnectNamedPipe), their connected handles read and
// written through go-winio's overlapped file (its I/O completion port,
// deadlines, Close unblocking a pending read). (An *os.File would do but
// for a data race in Go's own bookkeeping: it keeps a file offset that a
// concurrent Read and Write both update, even on a pipe.) go-winio's own
// ListenPipe is not used: it relies on NtCreateNamedPipeFile details that
// Wine 8 does not reproduce, so it could not be tested here.
//
//   - Every pipe is created with FILE_FLAG_FIRST_PIPE_INSTANCE: Listen fails
//     if the name exists, so a squatter who made it first is never mistaken
//     for the agent; and the listener always holds one unconnected instance,
//     so the name never lapses for a squatter to take while it serves.
//   - PIPE_REJECT_REMOTE_CLIENTS always: no caller over SMB.
//   - A protected DACL from sddl.go: who may connect, and that clients may
//     not create instances (serve the name) themselves.
//   - The caller is identified from the kernel: the pipe's client process id
//     (GetNamedPipeClientProcessId), a handle on that process opened at
//     accept, its token's user.
//   - Dial allows the server no impersonation (SECURITY_IDENTIFICATION).

var procWaitNamedPipeW = windows.NewLazySystemDLL("kernel32.dll").NewProc("WaitNamedPipeW")

// Pipe buffer sizes: a hint to the kernel, not a limit on messages.
const pipeBuffer = 64 << 10

// Listen creates the pipe path (\\.\pipe\NAME) for every interactive user
// (PublicSDDL). Errors are returned unwrapped for the caller to name its
// pipe.
func Listen(path string) (net.Listener, error) {
	self, err := SelfSID()
	if err != nil {
		return nil, err
	}
	sd, err := PublicSDDL(self)
	if err != nil {
		return nil, err
	}
	return ListenSDDL(path, sd)
}

// ListenPrivate creates the pipe path for one user only (PrivateSDDL):
// the pipe between the service and the helper in that user's session.
func ListenPrivate(path, userSID string) (net.Listener, error) {
	self, err := SelfSID()
	if err != nil {
		return nil, err
	}
	sd, err := PrivateSDDL(self, userSID)
	if err != nil {
		return nil, err
	}
	return ListenSDDL(path, sd)
}

// ListenSDDL creates the pipe path with the security descriptor sddl.
func ListenSDDL(path, sddl string) (net.Listener, error) {
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return nil, fmt.Errorf("security descriptor %q: %w", sddl, err)
	}
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	closed, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return nil, err
	}
	l := &listener{path: path, name: name, sa: &windows.SecurityAttributes{SecurityDescriptor: sd}, closed: closed}
	l.sa.Length = uint32(unsafe.Sizeof(*l.sa))
	if l.exists() {
		windows.CloseHandle(closed)
		return nil, &os.PathError{Op: "CreateNamedPipe", Path: path, Err: windows.ERROR_ALREADY_EXISTS}
	}
	if l.next, err = l.instance(true); err != nil {
		windows.CloseHandle(closed)
		return nil, &os.PathError{Op: "CreateNamedPipe", Path: path, Err: err}
	}
	return l, nil
}

// listener serves one pipe name.
type listener struct {
	path   string
	name   *uint16
	sa     *windows.SecurityAttributes
	closed windows.Handle // manual-reset event, set by Close

	closeOnce sync.Once
	mu        sync.Mutex     // serializes Accept and Close's release of next
	next      windows.Handle // guarded by mu: the unconnected instance Accept waits on; 0 once closed
}

// instance creates one server instance of the pipe (pipeModes).
func (l *listener) instance(first bool) (windows.Handle, error) {
	open, mode := pipeModes(first)
	return windows.CreateNamedPipe(l.name, open, mode, windows.PIPE_UNLIMITED_INSTANCES, pipeBuffer, pipeBuffer, 0, l.sa)
}

// exists reports whether a pipe of this name is served already. It only
// gives a clear error early: FILE_FLAG_FIRST_PIPE_INSTANCE is what makes
// the creation fail without a race (Wine 8 ignores that flag, so there
// this check is all there is).
func (l *listener) exists() bool {
	r, _, err := procWaitNamedPipeW.Call(uintptr(unsafe.Pointer(l.name)), 1)
	return r != 0 || !errors.Is(err, windows.ERROR_FILE_NOT_FOUND)
}

// Accept waits for a client on the pending instance, puts a new pending
// instance in its place, and returns the connection. Close unblocks it.
func (l *listener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next == 0 {
		return nil, net.ErrClosed
	}
	h := l.next
	if err := l.connect(h); err != nil {
		return nil, err
	}
	next, err := l.instance(false)
	if err != nil {
		// Without a pending instance the name could lapse: stop serving.
		windows.CloseHandle(h)
		return nil, fmt.Errorf("CreateNamedPipe %s: %w", l.path, err)
	}
	l.next = next
	c, err := newConn(h, l.path)
	if err != nil {
		return nil, err
	}
	c.proc = clientProcess(h)
	return c, nil
}

// connect waits for a client on instance h (ConnectNamedPipe), or for
// Close. h is not yet associated with Go's completion port, so the wait
// uses an event of its own.
func (l *listener) connect(h windows.Handle) error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(ev)
	ov := windows.Overlapped{HEvent: ev}
	err = windows.ConnectNamedPipe(h, &ov)
	switch {
	case err == nil, errors.Is(err, windows.ERROR_PIPE_CONNECTED):
		return nil
	case !errors.Is(err, windows.ERROR_IO_PENDING):
		return fmt.Errorf("ConnectNamedPipe %s: %w", l.path, err)
	}
	which, err := windows.WaitForMultipleObjects([]windows.Handle{ev, l.closed}, false, windows.INFINITE)
	if err != nil || which != windows.WAIT_OBJECT_0 {
		_ = windows.CancelIoEx(h, &ov)
	}
	var n uint32
	if err := windows.GetOverlappedResult(h, &ov, &n, true); err != nil {
		if which == windows.WAIT_OBJECT_0+1 || errors.Is(err, windows.ERROR_OPERATION_ABORTED) {
			return net.ErrClosed
		}
		return fmt.Errorf("ConnectNamedPipe %s: %w", l.path, err)
	}
	if which == windows.WAIT_OBJECT_0+1 {
		// Connected just as Close came: the client is refused.
		_ = windows.DisconnectNamedPipe(h)
		return net.ErrClosed
	}
	return nil
}

// Close stops Accept and removes the pending instance; connections
// already accepted stay open.
func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		_ = windows.SetEvent(l.closed)
		l.mu.Lock() // Accept returns once it sees the event
		if l.next != 0 {
			windows.CloseHandle(l.next)
			l.next = 0
		}
		l.mu.Unlock()
		windows.CloseHandle(l.closed)
	})
	return nil
}

func (l *listener) Addr() net.Addr { return pipeAddr(l.path) }

// pipeAddr is a pipe's path as a net.Addr.
type pipeAddr string

func (pipeAddr) Network() string  { return "pipe" }
func (a pipeAddr) String() string { return string(a) }

// Dial connects to the pipe at path, asking only for the rights a client
// is granted (ClientAccess) and allowing the server to identify, not
// impersonate, the caller. While every instance is busy it retries until
// ctx ends.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	for {
		h, err := windows.CreateFile(name, dialAccess, 0, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_OVERLAPPED|windows.SECURITY_SQOS_PRESENT|windows.SECURITY_IDENTIFICATION, 0)
		if err == nil {
			return newConn(h, path)
		}
		if !errors.Is(err, windows.ERROR_PIPE_BUSY) {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// conn is one end of a pipe connection. On the server side it holds a
// handle on the client's process, opened at accept: while the handle is
// open the process id cannot be reused, so PeerUser reads the token of the
// process that connected, not of a later one with the same id.
type conn struct {
	f    pipeFile
	path string
	proc procHandle

	once sync.Once
}

// pipeFile is what go-winio's overlapped file offers.
type pipeFile interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
	Close() error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
	Fd() uintptr
}

var _ net.Conn = (*conn)(nil)

// newConn takes the connected pipe handle h (closing it on failure).
func newConn(h windows.Handle, path string) (*conn, error) {
	f, err := winio.NewOpenFile(h)
	if err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("pipe %s: %w", path, err)
	}
	return &conn{f: f.(pipeFile), path: path}, nil
}

func (c *conn) Read(b []byte) (int, error)  { return c.f.Read(b) }
func (c *conn) Write(b []byte) (int, error) { return c.f.Write(b) }

func (c *conn) SetDeadline(t time.Time) error {
	return errors.Join(c.f.SetReadDeadline(t), c.f.SetWriteDeadline(t))
}
func (c *conn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// procHandle is the client process, or why it could not be opened.
type procHandle struct {
	h   windows.Handle
	pid uint32
	err error
}

func clientProcess(pipe windows.Handle) procHandle {
	var pid uint32
	if err := windows.GetNamedPipeClientProcessId(pipe, &pid); err != nil {
		return procHandle{err: fmt.Errorf("GetNamedPipeClientProcessId: %w", err)}
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return procHandle{pid: pid, err: fmt.Errorf("OpenProcess %d: %w", pid, err)}
	}
	return procHandle{h: h, pid: pid}
}

// Close closes the pipe and the process handle.
func (c *conn) Close() error {
	err := c.f.Close()
	c.once.Do(func() {
		if c.proc.h != 0 {
			windows.CloseHandle(c.proc.h)
		}
	})
	return err
}

func (c *conn) LocalAddr() net.Addr  { return pipeAddr(c.path) }
func (c *conn) RemoteAddr() net.Addr { return pipeAddr(c.path) }

// PeerUser returns the account of the process at the other end of c, an
// accepted connection of Listen or ListenPrivate, named by
// winlocal.UserName (bare for local accounts, DOMAIN\name otherwise).
func PeerUser(c net.Conn) (string, error) {
	sid, err := peerSID(c)
	if err != nil {
		return "", err
	}
	return accountOf(sid)
}

// PeerSID returns the SID of the account at the other end of c (an
// accepted connection of Listen or ListenPrivate).
func PeerSID(c net.Conn) (string, error) {
	sid, err := peerSID(c)
	if err != nil {
		return "", err
	}
	return sid.String(), nil
}

// PeerPID returns the process id of the client at the other end of c (an
// accepted connection of Listen or ListenPrivate), as the kernel recorded
// it when the client connected.
func PeerPID(c net.Conn) (uint32, error) {
	pc, ok := c.(*conn)
	if !ok || pc.proc.h == 0 && pc.proc.err == nil {
		return 0, fmt.Errorf("%w: not a connection accepted on an agent pipe", ErrPeer)
	}
	if pc.proc.pid == 0 {
		return 0, fmt.Errorf("%w: %w", ErrPeer, pc.proc.err)
	}
	return pc.proc.pid, nil
}

func peerSID(c net.Conn) (*windows.SID, error) {
	pc, ok := c.(*conn)
	if !ok {
		return nil, fmt.Errorf("%w: not a connection accepted on an agent pipe", ErrPeer)
	}
	if pc.proc.err != nil || pc.proc.h == 0 {
		return nil, fmt.Errorf("%w: %w", ErrPeer, cmp.Or(pc.proc.err, errors.New("not the server end")))
	}
	sid, err := processSID(pc.proc.h)
	if err != nil {
		return nil, fmt.Errorf("%w: process %d: %w", ErrPeer, pc.proc.pid, err)
	}
	return sid, nil
}

// accountOf names the account of sid.
func accountOf(sid *windows.SID) (string, error) {
	name, domain, _, err := sid.LookupAccount("")
	if errors.Is(err, windows.ERROR_NONE_MAPPED) {
		return "", fmt.Errorf("%w: %s", ErrUnknownUser, sid)
	}
	if err != nil {
		return "", fmt.Errorf("%w: LookupAccountSid %s: %w", ErrPeer, sid, err)
	}
	computer, err := windows.ComputerName()
	if err != nil {
		return "", fmt.Errorf("%w: GetComputerName: %w", ErrPeer, err)
	}
	return winlocal.UserName(name, domain, computer), nil
}

// processSID is the user of process h's primary token.
func processSID(h windows.Handle) (*windows.SID, error) {
	var t windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &t); err != nil {
		return nil, fmt.Errorf("OpenProcessToken: %w", err)
	}
	defer t.Close()
	u, err := t.GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("GetTokenInformation(TokenUser): %w", err)
	}
	return u.User.Sid.Copy()
}

// SelfSID is the SID of the account this process runs as.
func SelfSID() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("own token user: %w", err)
	}
	return u.User.Sid.String(), nil
}
