// Package winservice installs and runs porthole-agent as a Windows service.
//
// `porthole-agent install` enrolls (if not yet), protects the state
// directory (SYSTEM and Administrators only), and registers the service:
// LocalSystem, automatic start, restart on failure, command line
// `"…\porthole-agent.exe" service [--state-dir DIR]`. Under the service
// control manager `service` runs the agent until Stop or Shutdown.
// `uninstall` stops and deletes the service (the caller first removes every
// break-glass account and elevation grant, see agent.Purge) and, unless
// asked to keep it, the state directory.
//
// What the service is told to do is decided in plain Go here (the service
// configuration, recovery actions, command line quoting, the directory's
// security descriptor, the log file), unit-tested on every OS; the
// _windows.go file makes the calls (golang.org/x/sys/windows/svc/mgr and
// svc, SetNamedSecurityInfo). On other systems every call fails with
// ErrUnsupported.
package winservice

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"porthole/agent/winlocal"
)

// The service's registration.
const (
	Name        = "PortholeAgent"
	DisplayName = "Porthole Agent"
	Description = "Porthole remote support and temporary administrator access: keeps this computer's link to the Porthole broker."
)

// ErrUnsupported is returned on systems other than Windows.
var ErrUnsupported = fmt.Errorf("windows services exist only on Windows: %w", errors.ErrUnsupported)

// ErrNotInstalled is returned by Uninstall when there is no service.
var ErrNotInstalled = errors.New("winservice: the Porthole Agent service is not installed")

// StateDirSDDL protects the state directory (device key, device secret,
// journals): full control for SYSTEM and Administrators, inherited by
// everything inside, nothing inherited from above (P), so users of the
// machine cannot read the keys.
const StateDirSDDL = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// Action is one recovery action of the service control manager.
type Action struct {
	// Restart is true for "restart the service", false for "take no action".
	Restart bool
	Delay   time.Duration
}

// Recovery is what the service control manager does when the service
// fails: restart after 5 s, then 30 s, then every minute, forgetting
// earlier failures after a day. A failure is a crash or an exit with a
// non-zero code (the agent exits so when it cannot go on), hence
// RecoveryOnNonCrash.
var Recovery = []Action{{true, 5 * time.Second}, {true, 30 * time.Second}, {true, time.Minute}}

// Recovery settings.
const (
	RecoveryReset      = 24 * time.Hour
	RecoveryOnNonCrash = true
	// StopWait is how long the agent gets to stop: the wait hint it gives
	// the service control manager with STOP_PENDING.
	StopWait = 20 * time.Second
)

// Config is how the service is registered.
type Config struct {
	// Exe is the full path of porthole-agent.exe.
	Exe string
	// StateDir is the agent's state directory; passed on the command line
	// when it is not the default.
	StateDir, DefaultStateDir string
	// Args are further flags of `porthole-agent run` for the service.
	Args []string
}

// Args is the service's arguments after the exe.
func (c Config) ServiceArgs() []string {
	args := []string{"service"}
	if c.StateDir != "" && !strings.EqualFold(c.StateDir, c.DefaultStateDir) {
		args = append(args, "--state-dir", c.StateDir)
	}
	return append(args, c.Args...)
}

// CommandLine is the service's binary path as the service control manager
// stores it: the quoted exe and arguments, quoted as the C runtime and
// Go's os.Args split them. An unquoted path with spaces (C:\Program
// Files\…) would let a C:\Program.exe run as SYSTEM.
func (c Config) CommandLine() string {
	return winlocal.CommandLine(append([]string{c.Exe}, c.ServiceArgs()...)...)
}
