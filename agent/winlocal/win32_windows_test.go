package winlocal

// The real calls. Under Wine (how this repository tests Windows code) the
// process and token calls behave as on Windows and are checked against
// real processes; the account calls are not implemented by Wine 8, and
// TestWineAccountAPI pins down exactly what Wine does instead, so the
// README's statement stays true. TestWin32RealAccounts creates a real
// account: it runs only on real Windows, as an administrator, with
// PORTHOLE_WINDOWS_REAL_ACCOUNTS=1.

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

func TestSPILayout(t *testing.T) {
	var spi windows.SYSTEM_PROCESS_INFORMATION
	l := spi64
	if unsafe.Sizeof(uintptr(0)) == 4 {
		l = spi32
	}
	got := spiLayout{
		createTime: int(unsafe.Offsetof(spi.CreateTime)),
		nameLen:    int(unsafe.Offsetof(spi.ImageName) + unsafe.Offsetof(spi.ImageName.Length)),
		nameBuf:    int(unsafe.Offsetof(spi.ImageName) + unsafe.Offsetof(spi.ImageName.Buffer)),
		pid:        int(unsafe.Offsetof(spi.UniqueProcessID)),
		ppid:       int(unsafe.Offsetof(spi.InheritedFromUniqueProcessID)),
		session:    int(unsafe.Offsetof(spi.SessionID)),
		ptrSize:    int(unsafe.Sizeof(uintptr(0))),
	}
	if got != l {
		t.Fatalf("layout %+v, x/sys/windows says %+v", l, got)
	}
}

// TestNetapiLayouts checks the USER_INFO structs against the C layout of
// 64-bit Windows (lmaccess.h, natural alignment): Wine fails
// NetUserGetInfo, so no run here reads them from the real API.
func TestNetapiLayouts(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("offsets below are 64-bit Windows'")
	}
	var u2 userInfo2
	var u23 userInfo23
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof USER_INFO_1", unsafe.Sizeof(userInfo1{}), 56},
		{"USER_INFO_1.usri1_flags", unsafe.Offsetof(u2.flags), 40},
		{"USER_INFO_2.usri2_auth_flags", unsafe.Offsetof(u2.authFlags), 56},
		{"USER_INFO_2.usri2_last_logon", unsafe.Offsetof(u2.lastLogon), 96},
		{"USER_INFO_2.usri2_acct_expires", unsafe.Offsetof(u2.acctExpires), 104},
		{"USER_INFO_2.usri2_logon_hours", unsafe.Offsetof(u2.logonHours), 120},
		{"USER_INFO_2.usri2_num_logons", unsafe.Offsetof(u2.numLogons), 132},
		{"sizeof USER_INFO_2", unsafe.Sizeof(u2), 152},
		{"USER_INFO_23.usri23_user_sid", unsafe.Offsetof(u23.sid), 32},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// helperEnv makes the test binary a sleeper (TestHelperSleep): a child
// process without children of its own, so killing it leaves nothing behind.
const helperEnv = "WINLOCAL_TEST_HELPER"

func TestHelperSleep(t *testing.T) {
	if os.Getenv(helperEnv) != "sleep" {
		t.Skip("the child process of TestWin32Processes")
	}
	time.Sleep(2 * time.Minute)
	os.Exit(0)
}

// self returns this process as Processes lists it.
func self(t *testing.T, list []Process) Process {
	t.Helper()
	for _, p := range list {
		if int(p.PID) == os.Getpid() {
			return p
		}
	}
	t.Fatalf("own pid %d not in the process list of %d", os.Getpid(), len(list))
	return Process{}
}

func TestWin32Processes(t *testing.T) {
	w := Win32{}
	// A child that lives until killed.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSleep$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=sleep")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})

	list, err := w.Processes()
	if err != nil {
		t.Fatal(err)
	}
	me := self(t, list)
	exe, _ := os.Executable()
	if !strings.EqualFold(me.Image, filepath.Base(exe)) {
		t.Errorf("own image %q, want %q", me.Image, filepath.Base(exe))
	}
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &created, &exited, &kernel, &user); err != nil {
		t.Fatal(err)
	}
	if want := created.Nanoseconds()/100 + filetimeEpoch; me.Created != want {
		t.Errorf("own creation %d, GetProcessTimes says %d", me.Created, want)
	}
	if at := FiletimeToTime(me.Created); time.Since(at) < 0 || time.Since(at) > time.Hour {
		t.Errorf("own start %v is not recent", at)
	}
	var child Process
	for _, p := range list {
		if int(p.PID) == cmd.Process.Pid {
			child = p
		}
	}
	if child.PID == 0 || child.PPID != me.PID || !strings.EqualFold(child.Image, me.Image) {
		t.Fatalf("child %+v, want %s with parent %d", child, me.Image, me.PID)
	}

	// Tokens: the child runs as this process's user, elevated alike.
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	sid := tu.User.Sid.String()
	for _, p := range []Process{me, child} {
		tok, err := w.Token(p)
		if err != nil {
			t.Fatalf("Token(%d): %v", p.PID, err)
		}
		if tok.User != sid || tok.Elevated != windows.GetCurrentProcessToken().IsElevated() {
			t.Errorf("Token(%d) = %+v, want user %s elevated %v", p.PID, tok, sid, windows.GetCurrentProcessToken().IsElevated())
		}
	}
	d, err := w.Detail(child)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(filepath.Base(d.Path), me.Image) || !filepath.IsAbs(d.Path) {
		t.Errorf("Detail path %q, want the full path of %s", d.Path, me.Image)
	}
	switch {
	case slices.Contains(d.Args, "-test.run=^TestHelperSleep$"):
	case UnderWine() && d.Args == nil:
		t.Log("Wine 8: ProcessCommandLineInformation is STATUS_INVALID_INFO_CLASS; no command line")
	default:
		t.Errorf("Detail args %q, want the command line", d.Args)
	}

	// A PID with another creation time is another process.
	stale := child
	stale.Created++
	if _, err := w.Token(stale); !errors.Is(err, ErrGone) {
		t.Errorf("Token of a stale entry = %v, want ErrGone", err)
	}
	if err := w.Terminate(stale, sid); !errors.Is(err, ErrGone) {
		t.Errorf("Terminate of a stale entry = %v, want ErrGone", err)
	}
	if err := w.Terminate(child, "S-1-5-18"); !errors.Is(err, ErrNotOwner) {
		t.Errorf("Terminate as another user = %v, want ErrNotOwner", err)
	}
	if err := w.Terminate(child, sid); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("child ended with %v, want TerminateProcess's exit code 1", err)
		}
		done <- err // for the cleanup
	case <-time.After(20 * time.Second):
		t.Fatal("child still running 20 s after Terminate")
	}
}

func TestWin32Lookups(t *testing.T) {
	w := Win32{}
	name, err := AdminsGroup(w)
	if err != nil {
		t.Fatal(err)
	}
	a, err := w.LookupName(name)
	if err != nil || a.SID != AdministratorsSID {
		t.Errorf("LookupName(%s) = %+v, %v; want %s", name, a, err, AdministratorsSID)
	}
	if _, err := w.LookupName("ph-nosuchuser-7q"); !errors.Is(err, ErrorNoneMapped) {
		t.Errorf("LookupName of nobody = %v, want ERROR_NONE_MAPPED", err)
	}
	if _, err := w.LookupSID("not a sid"); err == nil {
		t.Error("LookupSID of garbage succeeded")
	}
	if UnderWine() {
		t.Logf("Wine names %s %q", AdministratorsSID, a.Qualified())
	}
}

// TestWineAccountAPI records what Wine 8 does with the account, session
// and profile calls: NetUserAdd reports success but creates no account
// anyone can see, so break glass cannot be run against Wine.
func TestWineAccountAPI(t *testing.T) {
	if !UnderWine() {
		t.Skip("describes Wine; on Windows see TestWin32RealAccounts")
	}
	w := Win32{}
	const user = "ph-winetest1"
	if err := w.UserAdd(NewUser{Name: user, Password: "Xy9!abcdefghijkLMNOP23", Priv: UserPrivUser, Flags: UFScript | UFNormalAccount}); err != nil {
		t.Fatalf("NetUserAdd = %v; Wine 8 reports success", err)
	}
	if _, err := w.LookupName(user); !errors.Is(err, ErrorNoneMapped) {
		t.Errorf("LookupAccountName of the added user = %v; Wine 8: ERROR_NONE_MAPPED (no real account)", err)
	}
	if _, err := w.UserGetInfo(user); !errors.Is(err, Errno(2140)) { // NERR_InternalError
		t.Errorf("NetUserGetInfo = %v; Wine 8: NERR_InternalError at levels 2 and 23", err)
	}
	// NetUserSetInfo is an unimplemented stub in Wine 8: calling it ends
	// the process, so it is not called here.
	group, err := AdminsGroup(w)
	if err != nil {
		t.Fatal(err)
	}
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	sid := tu.User.Sid.String()
	if err := w.LocalGroupAddMember(group, sid); err != nil {
		t.Errorf("NetLocalGroupAddMembers = %v; Wine 8 reports success", err)
	}
	if m, err := w.LocalGroupMembers(group); err != nil || len(m) != 0 {
		t.Errorf("NetLocalGroupGetMembers = %v, %v; Wine 8: no members, ever", m, err)
	}
	if err := w.LocalGroupDelMember(group, sid); err != nil {
		t.Errorf("NetLocalGroupDelMembers = %v; Wine 8 reports success", err)
	}
	if err := w.UserDel(user); err != nil {
		t.Errorf("NetUserDel = %v; Wine 8 removes the name NetUserAdd remembered", err)
	}
	if err := w.UserDel(user); !errors.Is(err, NERRUserNotFound) {
		t.Errorf("second NetUserDel = %v, want NERR_UserNotFound", err)
	}
	if err := w.DeleteProfile(sid); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("DeleteProfile = %v; Wine 8's userenv has no DeleteProfileW", err)
	}
	if s, err := w.Sessions(); err != nil || len(s) != 0 {
		t.Errorf("WTSEnumerateSessions = %+v, %v; Wine 8: no sessions", s, err)
	}
	if err := w.Logoff(1); !errors.Is(err, Errno(windows.ERROR_CALL_NOT_IMPLEMENTED)) {
		t.Errorf("WTSLogoffSession = %v; Wine 8: ERROR_CALL_NOT_IMPLEMENTED", err)
	}
}

// TestWin32RealAccounts is the account life cycle against the real SAM.
// It has not been run by this repository's CI, which has no Windows.
func TestWin32RealAccounts(t *testing.T) {
	if UnderWine() || os.Getenv("PORTHOLE_WINDOWS_REAL_ACCOUNTS") != "1" {
		t.Skip("creates a real local administrator: set PORTHOLE_WINDOWS_REAL_ACCOUNTS=1 on a throwaway Windows machine, as an administrator")
	}
	w := Win32{}
	const user = "ph-realtest1"
	group, err := AdminsGroup(w)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.UserAdd(NewUser{Name: user, Password: "Xy9!abcdefghijkLMNOP23", Priv: UserPrivUser,
		Comment: "porthole test", Flags: UFScript | UFNormalAccount | UFDontExpirePasswd}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.UserDel(user) })
	info, err := w.UserGetInfo(user)
	if err != nil || !strings.HasPrefix(info.SID, "S-1-5-21-") || info.Flags&UFScript == 0 || !info.LastLogon.IsZero() {
		t.Fatalf("UserGetInfo = %+v, %v", info, err)
	}
	if a, err := w.LookupName(user); err != nil || a.SID != info.SID || a.Type != SidTypeUser {
		t.Errorf("LookupName = %+v, %v; want %s", a, err, info.SID)
	}
	if err := w.UserSetExpires(user, time.Now().Add(time.Hour)); err != nil {
		t.Error(err)
	}
	if err := w.LocalGroupAddMember(group, info.SID); err != nil {
		t.Fatal(err)
	}
	if err := w.LocalGroupAddMember(group, info.SID); !errors.Is(err, ErrorMemberInAlias) {
		t.Errorf("second add = %v, want ERROR_MEMBER_IN_ALIAS", err)
	}
	if m, err := w.LocalGroupMembers(group); err != nil || !slices.Contains(m, info.SID) {
		t.Errorf("members %v, %v; want %s among them", m, err, info.SID)
	}
	if err := w.LocalGroupDelMember(group, info.SID); err != nil {
		t.Error(err)
	}
	if err := w.LocalGroupDelMember(group, info.SID); !errors.Is(err, ErrorMemberNotInAlias) {
		t.Errorf("second removal = %v, want ERROR_MEMBER_NOT_IN_ALIAS", err)
	}
	if err := w.UserSetFlags(user, info.Flags|UFAccountDisable); err != nil {
		t.Error(err)
	}
	if err := w.DeleteProfile(info.SID); err != nil && !errors.Is(err, ErrorFileNotFound) && !errors.Is(err, ErrorPathNotFound) {
		t.Errorf("DeleteProfile of a user who never logged on = %v", err)
	}
	if err := w.UserDel(user); err != nil {
		t.Fatal(err)
	}
	if _, err := w.UserGetInfo(user); !errors.Is(err, NERRUserNotFound) {
		t.Errorf("after NetUserDel: %v, want NERR_UserNotFound", err)
	}
	if s, err := w.Sessions(); err != nil || len(s) == 0 {
		t.Errorf("Sessions = %v, %v; want at least the services session", s, err)
	}
}
