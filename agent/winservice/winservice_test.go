package winservice

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestServiceCommandLine(t *testing.T) {
	const def = `C:\ProgramData\Porthole Agent`
	for _, tc := range []struct {
		name string
		cfg  Config
		args []string
		line string
	}{
		{"default state dir", Config{Exe: `C:\Program Files\Porthole\porthole-agent.exe`, StateDir: def, DefaultStateDir: def},
			[]string{"service"}, `"C:\Program Files\Porthole\porthole-agent.exe" service`},
		{"default state dir, other case", Config{Exe: `C:\porthole\porthole-agent.exe`, StateDir: strings.ToLower(def), DefaultStateDir: def},
			[]string{"service"}, `C:\porthole\porthole-agent.exe service`},
		{"own state dir and run flags", Config{Exe: `C:\porthole\porthole-agent.exe`, StateDir: `D:\state dir\`, DefaultStateDir: def,
			Args: []string{"--fps", "15", `--breakglass-prefix=a"b`, ""}},
			[]string{"service", "--state-dir", `D:\state dir\`, "--fps", "15", `--breakglass-prefix=a"b`, ""},
			`C:\porthole\porthole-agent.exe service --state-dir "D:\state dir\\" --fps 15 "--breakglass-prefix=a\"b" ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.ServiceArgs(); !slices.Equal(got, tc.args) {
				t.Errorf("args %q, want %q", got, tc.args)
			}
			if got := tc.cfg.CommandLine(); got != tc.line {
				t.Errorf("command line\n %s\nwant\n %s", got, tc.line)
			}
		})
	}
}

func TestRecovery(t *testing.T) {
	want := []Action{{true, 5 * time.Second}, {true, 30 * time.Second}, {true, time.Minute}}
	if !slices.Equal(Recovery, want) || RecoveryReset != 24*time.Hour || !RecoveryOnNonCrash {
		t.Fatalf("recovery %v reset %v on non-crash %v", Recovery, RecoveryReset, RecoveryOnNonCrash)
	}
	// The agent must stop within what it tells the SCM.
	if StopWait > 30*time.Second {
		t.Fatalf("StopWait %v: Windows kills services that take longer than ~30 s at shutdown", StopWait)
	}
}

func TestStateDirSDDL(t *testing.T) {
	// Protected (P), inherited by files and folders (OICI), only SYSTEM
	// and BUILTIN\Administrators: no Users, Everyone or Creator Owner.
	if StateDirSDDL != "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)" {
		t.Fatalf("StateDirSDDL = %s", StateDirSDDL)
	}
}

func TestOpenLogRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LogFile)
	if err := os.WriteFile(path, make([]byte, maxLog+1), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := OpenLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("line\n")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if b, err := os.ReadFile(path); err != nil || string(b) != "line\n" {
		t.Fatalf("new log %q, %v", b, err)
	}
	if fi, err := os.Stat(path + ".1"); err != nil || fi.Size() != maxLog+1 {
		t.Fatalf("rotated log: %v", err)
	}
	w, err = OpenLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("more\n"))
	w.Close()
	if b, _ := os.ReadFile(path); string(b) != "line\nmore\n" {
		t.Fatalf("log not appended: %q", b)
	}
}
