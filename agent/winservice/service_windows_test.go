package winservice

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"

	"porthole/agent/winlocal"
)

// TestMain doubles as the service under test: the service control manager
// starts this test binary with `service --state-dir DIR --name NAME`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "service" {
		os.Exit(testService(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// testService runs as the service: it writes "running" to DIR\state once
// started and "stopped" when the SCM stops it.
func testService(args []string) int {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	dir := fs.String("state-dir", "", "")
	name := fs.String("name", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	mark := func(s string) { _ = os.WriteFile(filepath.Join(*dir, "state"), []byte(s), 0o600) }
	err := Run(*name, func(ctx context.Context) error {
		mark("running")
		<-ctx.Done()
		mark("stopped")
		return nil
	})
	if err != nil {
		mark("svc.Run: " + err.Error())
		return 1
	}
	return 0
}

func waitFor(t *testing.T, what string, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, got := f()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after 30 s", what, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServiceLifecycle installs this test binary as a service with the
// agent's registration, lets the service control manager start it, checks
// what was registered, stops it (the run function sees its context end)
// and deletes it.
func TestServiceLifecycle(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "PortholeAgentTest" + hex.EncodeToString(b)
	dir := t.TempDir()
	cfg := Config{Exe: exe, StateDir: dir, DefaultStateDir: `C:\nowhere`, Args: []string{"--name", name}}
	if err := Install(name, cfg, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := Delete(ctx, name); err != nil && !errors.Is(err, ErrNotInstalled) {
			t.Errorf("cleanup: %v", err)
		}
	})
	state := func() string { b, _ := os.ReadFile(filepath.Join(dir, "state")); return string(b) }
	waitFor(t, "service start", func() (bool, string) {
		st, _ := Status(name)
		return st == "running" && state() == "running", fmt.Sprintf("%s / %q", st, state())
	})

	m, err := mgr.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, desc, err := serviceConfig(s.Handle)
	if err != nil {
		t.Fatal(err)
	}
	if c.BinaryPathName != cfg.CommandLine() || c.StartType != mgr.StartAutomatic || c.DisplayName != DisplayName ||
		c.ServiceType != windows.SERVICE_WIN32_OWN_PROCESS || c.ServiceStartName != "LocalSystem" {
		t.Errorf("registered %+v\nwant command line %s", c, cfg.CommandLine())
	}
	if desc != Description {
		t.Errorf("description %q", desc)
	}
	if winlocal.UnderWine() {
		// Wine 8 accepts SERVICE_CONFIG_FAILURE_ACTIONS but cannot read
		// it back, and lacks SERVICE_CONFIG_FAILURE_ACTIONS_FLAG.
		_, err := s.RecoveryActions()
		t.Logf("Wine 8: recovery actions not readable (%v)", err)
	} else {
		if ra, err := s.RecoveryActions(); err != nil || !slices.Equal(ra, mgrRecovery()) {
			t.Errorf("recovery actions %+v, %v; want %+v", ra, err, mgrRecovery())
		}
		if p, err := s.ResetPeriod(); err != nil || p != uint32(RecoveryReset/time.Second) {
			t.Errorf("reset period %d, %v", p, err)
		}
		if f, err := s.RecoveryActionsOnNonCrashFailures(); err != nil || !f {
			t.Errorf("recovery on non-crash failures %v, %v", f, err)
		}
	}

	// Installing again updates the registration (and finds it running).
	if err := Install(name, cfg, true); err != nil {
		t.Fatalf("second install: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Stop(ctx, name); err != nil {
		t.Fatal(err)
	}
	if st := state(); st != "stopped" {
		t.Fatalf("after Stop the service's run saw %q, want its context ended", st)
	}
	s.Close()
	if err := Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	// Deleted once the SCM has let go of it (the stopped process's
	// handles close a moment later).
	waitFor(t, "service deleted", func() (bool, string) {
		st, err := Status(name)
		return errors.Is(err, ErrNotInstalled), fmt.Sprintf("%s, %v", st, err)
	})
	if err := Delete(ctx, name); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("second Delete = %v, want ErrNotInstalled", err)
	}
}

// TestProtectDir: the state directory's DACL, read back, is
// StateDirSDDL's, and a file made inside inherits it.
func TestProtectDir(t *testing.T) {
	dir := t.TempDir()
	if err := ProtectDir(dir); err != nil {
		t.Fatal(err)
	}
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := windows.SecurityDescriptorFromString(StateDirSDDL)
	if winlocal.UnderWine() {
		// Wine 8 accepts SetNamedSecurityInfo on files but keeps no file
		// ACLs (it maps Unix modes): what it can show is that the call
		// is made as Windows expects it.
		t.Skipf("Wine 8 keeps no file DACLs: read back %s", sd)
	}
	if sd.String() != want.String() {
		t.Fatalf("state dir DACL %s, want %s", sd, want)
	}
	f := filepath.Join(dir, "key")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fsd, err := windows.GetNamedSecurityInfo(f, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("file inside: %s", fsd)
}

// serviceConfig is QUERY_SERVICE_CONFIG and the description (mgr's Config
// also asks for levels Wine 8 does not have).
func serviceConfig(h windows.Handle) (mgr.Config, string, error) {
	var n uint32
	b := make([]uint64, 1024) // 8-byte aligned for the structs
	qc := (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&b[0]))
	if err := windows.QueryServiceConfig(h, qc, 8*uint32(len(b)), &n); err != nil {
		return mgr.Config{}, "", err
	}
	c := mgr.Config{ServiceType: qc.ServiceType, StartType: qc.StartType, ErrorControl: qc.ErrorControl,
		BinaryPathName: windows.UTF16PtrToString(qc.BinaryPathName), DisplayName: windows.UTF16PtrToString(qc.DisplayName),
		ServiceStartName: windows.UTF16PtrToString(qc.ServiceStartName)}
	d := make([]uint64, 1024)
	if err := windows.QueryServiceConfig2(h, windows.SERVICE_CONFIG_DESCRIPTION, (*byte)(unsafe.Pointer(&d[0])), 8*uint32(len(d)), &n); err != nil {
		return c, "", err
	}
	desc := windows.UTF16PtrToString((*windows.SERVICE_DESCRIPTION)(unsafe.Pointer(&d[0])).Description)
	return c, desc, nil
}
