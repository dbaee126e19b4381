package winlocal

import (
	"errors"
	"fmt"
	"math"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Win32 makes the real calls, on the local machine. The zero value is
// ready to use and holds no state; it is safe for concurrent use.
type Win32 struct{}

// The calls golang.org/x/sys/windows does not wrap.
var (
	netapi32 = windows.NewLazySystemDLL("netapi32.dll")
	userenv  = windows.NewLazySystemDLL("userenv.dll")
	wtsapi32 = windows.NewLazySystemDLL("wtsapi32.dll")

	procNetUserAdd                  = netapi32.NewProc("NetUserAdd")
	procNetUserSetInfo              = netapi32.NewProc("NetUserSetInfo")
	procNetUserDel                  = netapi32.NewProc("NetUserDel")
	procNetLocalGroupAddMembers     = netapi32.NewProc("NetLocalGroupAddMembers")
	procNetLocalGroupDelMembers     = netapi32.NewProc("NetLocalGroupDelMembers")
	procNetLocalGroupGetMembers     = netapi32.NewProc("NetLocalGroupGetMembers")
	procDeleteProfileW              = userenv.NewProc("DeleteProfileW")
	procWTSQuerySessionInformationW = wtsapi32.NewProc("WTSQuerySessionInformationW")
	procWTSLogoffSession            = wtsapi32.NewProc("WTSLogoffSession")
)

// UnderWine reports whether this "Windows" is Wine (ntdll exports
// wine_get_version). Wine 8 implements the process and token calls but not
// local accounts, groups, sessions or profiles (see the tests), so tests of
// the real calls use it to know what to expect.
func UnderWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// Constants of the Win32 headers that x/sys does not define.
const (
	errorMoreData      = 234        // ERROR_MORE_DATA
	maxPreferredLength = 0xFFFFFFFF // MAX_PREFERRED_LENGTH
	wtsUserName        = 5          // WTS_INFO_CLASS WTSUserName
	wtsDomainName      = 7          // WTSDomainName
	// timeqForever is TIMEQ_FOREVER: the account never expires.
	timeqForever = 0xFFFFFFFF
)

// USER_INFO_1 (lmaccess.h). Field order and natural alignment match the C
// layout on every Windows architecture Go supports.
type userInfo1 struct {
	name        *uint16
	password    *uint16
	passwordAge uint32
	priv        uint32
	homeDir     *uint16
	comment     *uint16
	flags       uint32
	scriptPath  *uint16
}

// USER_INFO_2, which starts with the fields of USER_INFO_1.
type userInfo2 struct {
	userInfo1
	authFlags    uint32
	fullName     *uint16
	usrComment   *uint16
	parms        *uint16
	workstations *uint16
	lastLogon    uint32
	lastLogoff   uint32
	acctExpires  uint32
	maxStorage   uint32
	unitsPerWeek uint32
	logonHours   *byte
	badPwCount   uint32
	numLogons    uint32
	logonServer  *uint16
	countryCode  uint32
	codePage     uint32
}

// USER_INFO_23.
type userInfo23 struct {
	name     *uint16
	fullName *uint16
	comment  *uint16
	flags    uint32
	sid      *windows.SID
}

// LOCALGROUP_MEMBERS_INFO_0.
type localGroupMembersInfo0 struct {
	sid *windows.SID
}

// have reports a missing export as an error: LazyProc.Call would panic,
// and Wine, for one, lacks some (userenv's DeleteProfileW).
func have(p *windows.LazyProc) error {
	if err := p.Find(); err != nil {
		return fmt.Errorf("%s: %w", p.Name, errors.ErrUnsupported)
	}
	return nil
}

// oserr turns a Win32 error into an Errno, so errors.Is with the codes of
// this package works on the real calls as on the fake.
func oserr(err error) error {
	var en syscall.Errno
	if errors.As(err, &en) {
		return Errno(en)
	}
	return err
}

// netStatus turns a NET_API_STATUS into an error.
func netStatus(r uintptr) error {
	if r == 0 {
		return nil
	}
	return Errno(uint32(r))
}

// boolErr turns a BOOL result and its last error into an error.
func boolErr(r uintptr, e error) error {
	if r != 0 {
		return nil
	}
	if e == nil || errors.Is(e, syscall.Errno(0)) {
		return syscall.EINVAL
	}
	return oserr(e)
}

func wide(s string) (*uint16, error) {
	p, err := windows.UTF16PtrFromString(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	return p, nil
}

// LookupSID is LookupAccountSid on the local machine.
func (Win32) LookupSID(sid string) (Account, error) {
	s, err := windows.StringToSid(sid)
	if err != nil {
		return Account{}, oserr(err)
	}
	name, domain, use, err := s.LookupAccount("")
	if err != nil {
		return Account{}, oserr(err)
	}
	return Account{Name: name, Domain: domain, SID: sid, Type: use}, nil
}

// LookupName is LookupAccountName on the local machine.
func (Win32) LookupName(name string) (Account, error) {
	s, domain, use, err := windows.LookupSID("", name)
	if err != nil {
		return Account{}, oserr(err)
	}
	bare := name
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '\\' {
			bare = name[i+1:]
			break
		}
	}
	return Account{Name: bare, Domain: domain, SID: s.String(), Type: use}, nil
}

// UserAdd is NetUserAdd at level 1. The UTF-16 copy of the password is
// zeroed after the call.
func (Win32) UserAdd(u NewUser) error {
	name, err := wide(u.Name)
	if err != nil {
		return err
	}
	comment, err := wide(u.Comment)
	if err != nil {
		return err
	}
	pw, err := windows.UTF16FromString(u.Password)
	if err != nil {
		return errors.New("password holds a NUL")
	}
	defer clear(pw)
	info := userInfo1{name: name, password: &pw[0], priv: u.Priv, comment: comment, flags: u.Flags}
	if err := have(procNetUserAdd); err != nil {
		return err
	}
	var parmErr uint32
	r, _, _ := procNetUserAdd.Call(0, 1, uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&parmErr)))
	if err := netStatus(r); err != nil {
		if errors.Is(err, ErrorInvalidParameter) {
			return fmt.Errorf("%w: USER_INFO_1 field %d", err, parmErr)
		}
		return err
	}
	return nil
}

// netUserGetInfo calls NetUserGetInfo at level and passes the buffer to f
// before freeing it.
func netUserGetInfo(name string, level uint32, f func(buf *byte)) error {
	n, err := wide(name)
	if err != nil {
		return err
	}
	var buf *byte
	if err := windows.NetUserGetInfo(nil, n, level, &buf); err != nil {
		return oserr(err)
	}
	defer windows.NetApiBufferFree(buf)
	f(buf)
	return nil
}

// UserGetInfo is NetUserGetInfo at level 2 (flags, logons) and 23 (SID).
func (Win32) UserGetInfo(name string) (UserInfo, error) {
	info := UserInfo{Name: name}
	err := netUserGetInfo(name, 2, func(buf *byte) {
		u := (*userInfo2)(unsafe.Pointer(buf))
		info.Flags = u.flags
		info.NumLogons = int(u.numLogons)
		if u.lastLogon != 0 {
			info.LastLogon = time.Unix(int64(u.lastLogon), 0).UTC()
		}
	})
	if err != nil {
		return UserInfo{}, err
	}
	err = netUserGetInfo(name, 23, func(buf *byte) {
		u := (*userInfo23)(unsafe.Pointer(buf))
		if u.sid != nil {
			info.SID = u.sid.String()
		}
	})
	if err != nil {
		return UserInfo{}, err
	}
	if info.SID == "" {
		return UserInfo{}, fmt.Errorf("NetUserGetInfo 23 of %s gave no SID", name)
	}
	return info, nil
}

func netUserSetInfo(name string, level uint32, info unsafe.Pointer) error {
	n, err := wide(name)
	if err != nil {
		return err
	}
	if err := have(procNetUserSetInfo); err != nil {
		return err
	}
	var parmErr uint32
	r, _, _ := procNetUserSetInfo.Call(0, uintptr(unsafe.Pointer(n)), uintptr(level), uintptr(info), uintptr(unsafe.Pointer(&parmErr)))
	return netStatus(r)
}

// UserSetFlags is NetUserSetInfo at level 1008 (USER_INFO_1008).
func (Win32) UserSetFlags(name string, flags uint32) error {
	info := struct{ flags uint32 }{flags}
	return netUserSetInfo(name, 1008, unsafe.Pointer(&info))
}

// UserSetExpires is NetUserSetInfo at level 1017 (USER_INFO_1017): the
// account stops working at at, to the second; zero means never.
func (Win32) UserSetExpires(name string, at time.Time) error {
	secs := uint32(timeqForever)
	if !at.IsZero() {
		u := at.Unix()
		if u <= 0 || u >= math.MaxUint32 {
			return fmt.Errorf("account expiry %s out of range", at)
		}
		secs = uint32(u)
	}
	info := struct{ acctExpires uint32 }{secs}
	return netUserSetInfo(name, 1017, unsafe.Pointer(&info))
}

// UserDel is NetUserDel.
func (Win32) UserDel(name string) error {
	n, err := wide(name)
	if err != nil {
		return err
	}
	if err := have(procNetUserDel); err != nil {
		return err
	}
	r, _, _ := procNetUserDel.Call(0, uintptr(unsafe.Pointer(n)))
	return netStatus(r)
}

func groupMember(proc *windows.LazyProc, group, sid string) error {
	g, err := wide(group)
	if err != nil {
		return err
	}
	s, err := windows.StringToSid(sid)
	if err != nil {
		return oserr(err)
	}
	if err := have(proc); err != nil {
		return err
	}
	members := [1]localGroupMembersInfo0{{sid: s}}
	r, _, _ := proc.Call(0, uintptr(unsafe.Pointer(g)), 0, uintptr(unsafe.Pointer(&members[0])), 1)
	return netStatus(r)
}

// LocalGroupAddMember is NetLocalGroupAddMembers at level 0 (by SID).
func (Win32) LocalGroupAddMember(group, sid string) error {
	return groupMember(procNetLocalGroupAddMembers, group, sid)
}

// LocalGroupDelMember is NetLocalGroupDelMembers at level 0 (by SID).
func (Win32) LocalGroupDelMember(group, sid string) error {
	return groupMember(procNetLocalGroupDelMembers, group, sid)
}

// LocalGroupMembers is NetLocalGroupGetMembers at level 0: the members'
// SIDs.
func (Win32) LocalGroupMembers(group string) ([]string, error) {
	g, err := wide(group)
	if err != nil {
		return nil, err
	}
	if err := have(procNetLocalGroupGetMembers); err != nil {
		return nil, err
	}
	var (
		out    []string
		resume uintptr
	)
	for {
		var buf *byte
		var read, total uint32
		r, _, _ := procNetLocalGroupGetMembers.Call(0, uintptr(unsafe.Pointer(g)), 0, uintptr(unsafe.Pointer(&buf)),
			maxPreferredLength, uintptr(unsafe.Pointer(&read)), uintptr(unsafe.Pointer(&total)), uintptr(unsafe.Pointer(&resume)))
		if r != 0 && r != errorMoreData {
			return nil, netStatus(r)
		}
		if buf != nil {
			for _, m := range unsafe.Slice((*localGroupMembersInfo0)(unsafe.Pointer(buf)), read) {
				if m.sid != nil {
					out = append(out, m.sid.String())
				}
			}
			windows.NetApiBufferFree(buf)
		}
		if r != errorMoreData {
			return out, nil
		}
	}
}

// DeleteProfile is DeleteProfileW: the profile directory and its registry
// entries, by SID.
func (Win32) DeleteProfile(sid string) error {
	s, err := wide(sid)
	if err != nil {
		return err
	}
	if err := have(procDeleteProfileW); err != nil {
		return err
	}
	r, _, e := procDeleteProfileW.Call(uintptr(unsafe.Pointer(s)), 0, 0)
	return boolErr(r, e)
}

// Sessions is WTSEnumerateSessions on this server, with each session's
// user and domain from WTSQuerySessionInformation.
func (Win32) Sessions() ([]Session, error) {
	var (
		list  *windows.WTS_SESSION_INFO
		count uint32
	)
	if err := windows.WTSEnumerateSessions(0, 0, 1, &list, &count); err != nil {
		return nil, oserr(err)
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(list)))
	var out []Session
	for _, s := range unsafe.Slice(list, count) {
		sess := Session{ID: s.SessionID, State: s.State}
		sess.User, _ = wtsString(s.SessionID, wtsUserName)
		sess.Domain, _ = wtsString(s.SessionID, wtsDomainName)
		out = append(out, sess)
	}
	return out, nil
}

// noSession is what WTSGetActiveConsoleSessionId returns when no session
// is attached to the console (during a session switch).
const noSession = 0xFFFFFFFF

// ConsoleSession is the session attached to the physical console
// (WTSGetActiveConsoleSessionId) with its user and domain; User is empty
// when nobody is logged on there. ErrorFileNotFound: no session is
// attached (a switch between sessions is under way).
func (Win32) ConsoleSession() (Session, error) {
	id := windows.WTSGetActiveConsoleSessionId()
	if id == noSession {
		return Session{}, ErrorFileNotFound
	}
	user, err := wtsString(id, wtsUserName)
	if err != nil {
		return Session{}, fmt.Errorf("WTSQuerySessionInformation(%d, WTSUserName): %w", id, err)
	}
	domain, err := wtsString(id, wtsDomainName)
	if err != nil {
		return Session{}, fmt.Errorf("WTSQuerySessionInformation(%d, WTSDomainName): %w", id, err)
	}
	return Session{ID: id, User: user, Domain: domain}, nil
}

// wtsString is WTSQuerySessionInformationW for a string class.
func wtsString(id uint32, class uintptr) (string, error) {
	var (
		buf *uint16
		n   uint32
	)
	if err := have(procWTSQuerySessionInformationW); err != nil {
		return "", err
	}
	r, _, e := procWTSQuerySessionInformationW.Call(0, uintptr(id), class, uintptr(unsafe.Pointer(&buf)), uintptr(unsafe.Pointer(&n)))
	if err := boolErr(r, e); err != nil {
		return "", err
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(buf)))
	return windows.UTF16PtrToString(buf), nil
}

// Logoff is WTSLogoffSession, waiting for the session to end.
func (Win32) Logoff(id uint32) error {
	if err := have(procWTSLogoffSession); err != nil {
		return err
	}
	r, _, e := procWTSLogoffSession.Call(0, uintptr(id), 1)
	return boolErr(r, e)
}

// Processes is NtQuerySystemInformation(SystemProcessInformation): every
// process with its parent, creation time, image name and session, in one
// call. The idle process (PID 0) is left out.
func (Win32) Processes() ([]Process, error) {
	size := uint32(512 << 10)
	for range 8 {
		buf := make([]uint64, size/8) // 8-byte aligned, as the entries need
		var ret uint32
		err := windows.NtQuerySystemInformation(windows.SystemProcessInformation, unsafe.Pointer(&buf[0]), size, &ret)
		if errors.Is(err, windows.STATUS_INFO_LENGTH_MISMATCH) {
			size = max(ret, size) + 64<<10 // processes start meanwhile
			continue
		}
		if err != nil {
			return nil, err
		}
		layout := spi64
		if unsafe.Sizeof(uintptr(0)) == 4 {
			layout = spi32
		}
		b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), size)
		return parseProcesses(b[:min(ret, size)], uint64(uintptr(unsafe.Pointer(&buf[0]))), layout)
	}
	return nil, errors.New("process list keeps growing")
}

// openProcess opens p with access (plus PROCESS_QUERY_LIMITED_INFORMATION)
// and checks its creation time, so a reused PID is ErrGone.
func openProcess(access uint32, p Process) (windows.Handle, error) {
	h, err := windows.OpenProcess(access|windows.PROCESS_QUERY_LIMITED_INFORMATION, false, p.PID)
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
		return 0, ErrGone
	}
	if err != nil {
		return 0, oserr(err)
	}
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		windows.CloseHandle(h)
		return 0, oserr(err)
	}
	if int64(created.HighDateTime)<<32|int64(created.LowDateTime) != p.Created {
		windows.CloseHandle(h)
		return 0, ErrGone
	}
	return h, nil
}

// token reads the token of an open process.
func token(h windows.Handle) (Token, error) {
	var t windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &t); err != nil {
		return Token{}, oserr(err)
	}
	defer t.Close()
	u, err := t.GetTokenUser()
	if err != nil {
		return Token{}, oserr(err)
	}
	out := Token{User: u.User.Sid.String(), Elevated: t.IsElevated()}
	var n uint32
	if err := windows.GetTokenInformation(t, windows.TokenElevationType, (*byte)(unsafe.Pointer(&out.ElevationType)), 4, &n); err != nil {
		out.ElevationType = 0 // unknown; Elevated still says it
	}
	return out, nil
}

// Token is OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION) + OpenProcessToken
// + GetTokenInformation(TokenUser, TokenElevation, TokenElevationType).
func (Win32) Token(p Process) (Token, error) {
	h, err := openProcess(0, p)
	if err != nil {
		return Token{}, err
	}
	defer windows.CloseHandle(h)
	return token(h)
}

// Detail reads the full image path (QueryFullProcessImageName) and the
// command line (NtQueryInformationProcess ProcessCommandLineInformation,
// Windows 8.1 and later; nil Args where unavailable).
func (Win32) Detail(p Process) (Detail, error) {
	h, err := openProcess(0, p)
	if err != nil {
		return Detail{}, err
	}
	defer windows.CloseHandle(h)
	var d Detail
	path := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(path))
	if err := windows.QueryFullProcessImageName(h, 0, &path[0], &n); err != nil {
		return Detail{}, oserr(err)
	}
	d.Path = windows.UTF16ToString(path[:n])
	if line, err := commandLine(h); err == nil {
		if args, err := windows.DecomposeCommandLine(line); err == nil {
			d.Args = args
		} else {
			d.Args = []string{line}
		}
	}
	return d, nil
}

// commandLine is NtQueryInformationProcess(ProcessCommandLineInformation):
// a UNICODE_STRING followed by its characters.
func commandLine(h windows.Handle) (string, error) {
	size := uint32(4096)
	for range 4 {
		buf := make([]uint64, (size+7)/8)
		var ret uint32
		err := windows.NtQueryInformationProcess(h, windows.ProcessCommandLineInformation, unsafe.Pointer(&buf[0]), size, &ret)
		if errors.Is(err, windows.STATUS_INFO_LENGTH_MISMATCH) || errors.Is(err, windows.STATUS_BUFFER_OVERFLOW) ||
			errors.Is(err, windows.STATUS_BUFFER_TOO_SMALL) {
			size = max(ret, size*2)
			continue
		}
		if err != nil {
			return "", err
		}
		return (*windows.NTUnicodeString)(unsafe.Pointer(&buf[0])).String(), nil
	}
	return "", errors.New("command line keeps growing")
}

// Terminate is TerminateProcess, after checking on the same handle that p
// is still the process listed and that its token user is sid.
func (Win32) Terminate(p Process, sid string) error {
	h, err := openProcess(windows.PROCESS_TERMINATE, p)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	t, err := token(h)
	if err != nil {
		return err
	}
	if t.User != sid {
		return ErrNotOwner
	}
	return oserr(windows.TerminateProcess(h, 1))
}
