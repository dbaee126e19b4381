package accounts

// Windows: compiled, not tested on this machine. Local accounts are managed
// through PowerShell's Microsoft.PowerShell.LocalAccounts module (Windows 10
// / Server 2016 and later). The username and expiry travel in environment
// variables and the password on stdin, so neither reaches a command line.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"
)

// adminsSID is BUILTIN\Administrators, whatever its localised name.
const adminsSID = "S-1-5-32-544"

type windowsSystem struct {
	log *slog.Logger
	ps  string
}

func newSystem(log *slog.Logger, root string) (system, error) {
	if root != "" {
		return nil, fmt.Errorf("%w: Root is supported on Linux only", ErrConfig)
	}
	ps, err := exec.LookPath("powershell.exe")
	if err != nil {
		return nil, fmt.Errorf("%w: powershell.exe", ErrMissingTool)
	}
	return &windowsSystem{log: log, ps: ps}, nil
}

// run runs a PowerShell script with PORTHOLE_* variables from env and stdin,
// and returns its trimmed standard output.
func (s *windowsSystem) run(ctx context.Context, script string, env map[string]string, stdin string) (string, error) {
	cmd := exec.CommandContext(ctx, s.ps, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command",
		"$ErrorActionPreference = 'Stop'; "+script)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, "PORTHOLE_"+k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: powershell: %v: %s", ErrSystem, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func (s *windowsSystem) exists(ctx context.Context, name string) (bool, error) {
	out, err := s.run(ctx, `
if (Get-LocalUser -Name $env:PORTHOLE_USER -ErrorAction SilentlyContinue) { 'yes'; exit 0 }
if (Get-LocalGroup -Name $env:PORTHOLE_USER -ErrorAction SilentlyContinue) { 'yes'; exit 0 }
'no'`, map[string]string{"USER": name}, "")
	if err != nil {
		return false, err
	}
	return out == "yes", nil
}

func (s *windowsSystem) adminGroup(ctx context.Context) (string, error) {
	out, err := s.run(ctx, `(Get-LocalGroup -SID '`+adminsSID+`').Name`, nil, "")
	if err != nil || out == "" {
		return "", fmt.Errorf("%w: %s: %v", ErrNoAdminGroup, adminsSID, err)
	}
	return out, nil
}

func (s *windowsSystem) create(ctx context.Context, name, password, _ string, expires time.Time) error {
	_, err := s.run(ctx, `
$p = ConvertTo-SecureString ([Console]::In.ReadLine()) -AsPlainText -Force
$u = New-LocalUser -Name $env:PORTHOLE_USER -Password $p -Description 'Porthole break glass' `+
		`-AccountExpires ([datetime]::Parse($env:PORTHOLE_EXPIRES).ToLocalTime()) -PasswordNeverExpires -UserMayNotChangePassword
Add-LocalGroupMember -SID '`+adminsSID+`' -Member $u`,
		map[string]string{"USER": name, "EXPIRES": expires.UTC().Format(time.RFC3339)}, password+"\n")
	return err
}

func (s *windowsSystem) remove(ctx context.Context, name string) error {
	_, err := s.run(ctx, `
$n = $env:PORTHOLE_USER
$u = Get-LocalUser -Name $n -ErrorAction SilentlyContinue
if (-not $u) { exit 0 }
Disable-LocalUser -Name $n
try { $sessions = @(quser $n 2>$null | Select-Object -Skip 1) } catch { $sessions = @() }
foreach ($line in $sessions) {
  if ($line -match '\s(\d+)\s+(Active|Disc)') { logoff $Matches[1] }
}
Get-CimInstance Win32_Process | ForEach-Object {
  $o = Invoke-CimMethod -InputObject $_ -MethodName GetOwner -ErrorAction SilentlyContinue
  if ($o -and $o.User -eq $n) { Stop-Process -Id $_.ProcessId -Force -ErrorAction SilentlyContinue }
}
$sid = $u.SID.Value
Remove-LocalUser -Name $n
Get-CimInstance Win32_UserProfile | Where-Object { $_.SID -eq $sid } | Remove-CimInstance`,
		map[string]string{"USER": name}, "")
	return err
}

// usage: active when a process runs under the account; logged in when the
// account has a LastLogon time.
func (s *windowsSystem) usage(ctx context.Context, name string) (active, loggedIn bool, err error) {
	out, err := s.run(ctx, `
$n = $env:PORTHOLE_USER
$u = Get-LocalUser -Name $n
$procs = @(Get-Process -IncludeUserName -ErrorAction SilentlyContinue | Where-Object { $_.UserName -like "*\$n" }).Count
"$procs"
if ($u.LastLogon) { 'yes' } else { 'no' }`, map[string]string{"USER": name}, "")
	if err != nil {
		return false, false, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return false, false, fmt.Errorf("%w: unexpected usage output %q", ErrSystem, out)
	}
	return f[0] != "0", f[1] == "yes", nil
}
