// Command porthole is the admin and approver CLI. It talks to the broker's
// JSON API with a per-user API token obtained by "porthole login".
//
//	porthole login --broker URL --user NAME
//	porthole devices [--json]
//	porthole session list|terminate
//	porthole token create [--uses N] [--expires 24h] [--note TEXT] [--json]
//	porthole token api create|list|revoke
//	porthole user list|create|disable|enable|role|reset-password|reset-mfa|delete
//	porthole code issue --device ID [--user NAME] [--for 30m]
//	porthole elevations list --device ID
//	porthole request create ENTITLEMENT --for 1h --reason TEXT [--emergency]
//	porthole task list|approve|deny|escalate ID
//	porthole group list|create|rename|delete|assign
//	porthole user unlock NAME
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `usage: porthole COMMAND [flags]

commands:
  login --broker URL --user NAME [--password-stdin] [--code C]
                                                      get an API token (stored in ~/.config/porthole);
                                                      asks for an authenticator code when the account has MFA
  devices [--json]                                    list enrolled devices
  session list [--device ID] [--limit N] [--json]     list remote-support sessions, newest first
  session terminate ID [--json]                       end a live session (yours, or anyone's with the terminate permission)
  token create [--uses N] [--expires D] [--note T]    create an agent enrollment token
  token api create --scope S[,S...] [--expires 24h] [--note T] [--json]
                                                      an API token with scopes (e.g. devices:read,sessions:*),
                                                      shown once; never more than your own rights
  token api list [--json]                             your API and CLI tokens with their last use
  token api revoke ID [--json]                        revoke a token at once
  user list [--all] [--json]                          portal users, their role, groups and status (admins)
  user create NAME --role ROLE [--group G]... [--json]
                                                      add a user; prints the initial password once
  user disable|enable|reset-password|reset-mfa|delete USER [--json]
                                                      lock out, let back in, reset, or delete a user (id or
                                                      name); their sessions, websockets, tokens and remote
                                                      sessions end at once
  user role USER ROLE [--group G]... [--json]         change a role; --group binds a technician to device groups
  audit [--action A] [--limit N] [--json]             show recent audit records
  audit verify [--file EXPORT.jsonl [--public-key K]] check the audit hash chain (exit 1 names the first bad record);
                                                      an export must carry the broker's signature: truncated or
                                                      unsigned ones are refused (key: --public-key, else the broker's)
  audit export [--format csv|jsonl] [-o FILE] [--since T --until T --actor A --action A --device ID]
                                                      stream the audit log
  recordings [list] [--device ID] [--user U] [--since T] [--until T] [--json]
                                                      list session recordings
  recordings verify [--id ID]                         check recordings against their audited SHA-256 and size
                                                      (exit 1 names each mismatch)
  code issue --device ID [--user U] [--for 30m] [--json]
                                                      issue a temporary admin code (shown once)
  elevations list --device ID [--json]                elevation sessions and what ran elevated
  breakglass create --device ID (--for 1h | --until T) [--json]
                                                      a temporary local administrator on the device;
                                                      prints its username and password once
  breakglass list --device ID [--json]                the device's break-glass accounts and their status
  breakglass revoke GRANT_ID                          log the account off and delete it now
  request create ENTITLEMENT --for 1h --reason TEXT [--group G] [--emergency] [--json]
                                                      ask for an entitlement (remote_support, unattended_access,
                                                      break_glass, elevation_codes) on a device group
  task list [--all | --state S | --review] [--json]   access requests you made or may decide (⚡ = emergency)
  task approve|deny|escalate|cancel|revoke|review ID [--comment T] [--json]
                                                      act on an access request
  grants [--json]                                     active access grants: who holds what, until when
  entitlement list [--json]                           entitlements and their policies
  entitlement set NAME --group ID --approvers L [--approvals N] [--max D] [--justification]
      [--self-approve] [--emergency-approvers L [--emergency-approvals N] | --emergency-auto] [--emergency-max D]
                                                      define or change an entitlement (admins)
  group list [--json]                                 device groups and how many devices each holds
  group create NAME | rename ID|NAME NEW_NAME [--json]
                                                      create or rename a device group (admins)
  group delete ID|NAME [--force] [--json]             delete a group: its devices fall back to no group (global
                                                      settings), its group settings are removed; refused while
                                                      entitlements exist on it unless --force (deletes them too)
  group assign DEVICE_ID GROUP|none [--json]          move a device into a group (id or name), or out of any
  user unlock NAME [--json]                           lift an account's lockout after failed logins (admins; audited)
  device rotate-key DEVICE_ID [--wait 10s] [--json]   give the device a new elevation-code key (admins); codes of
                                                      the old key stop working once its agent has stored the new one

Exit codes: 0 ok, 1 error, 2 usage, 3 not logged in or token expired, 4 permission denied.`

// errUsage prints the usage text as the error.
var errUsage = errors.New(strings.TrimSpace(usage))

// exitError carries an exit code with a message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	fmt.Fprintln(os.Stderr, "porthole:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(1)
}

func run(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errUsage}
	}
	switch args[0] {
	case "login":
		return cmdLogin(ctx, args[1:], in, out)
	case "devices":
		return cmdDevices(ctx, args[1:], out)
	case "session":
		return cmdSession(ctx, args[1:], out)
	case "token":
		if len(args) > 1 && args[1] == "api" {
			return cmdTokenAPI(ctx, args[2:], out)
		}
		if len(args) < 2 || args[1] != "create" {
			return &exitError{2, errors.New("usage: porthole token create [--uses N] [--expires D] [--note T] | token api create|list|revoke")}
		}
		return cmdTokenCreate(ctx, args[2:], out)
	case "user":
		return cmdUser(ctx, args[1:], out)
	case "audit":
		if len(args) > 1 && args[1] == "verify" {
			return cmdAuditVerify(ctx, args[2:], out)
		}
		if len(args) > 1 && args[1] == "export" {
			return cmdAuditExport(ctx, args[2:], out)
		}
		return cmdAudit(ctx, args[1:], out)
	case "recordings":
		return cmdRecordings(ctx, args[1:], out)
	case "code":
		if len(args) < 2 || args[1] != "issue" {
			return &exitError{2, errors.New("usage: porthole code issue --device ID [--user U] [--for 30m]")}
		}
		return cmdCodeIssue(ctx, args[2:], out)
	case "elevations":
		if len(args) < 2 || args[1] != "list" {
			return &exitError{2, errors.New("usage: porthole elevations list --device ID")}
		}
		return cmdElevationsList(ctx, args[2:], out)
	case "breakglass":
		return cmdBreakGlass(ctx, args[1:], out)
	case "request":
		return cmdRequest(ctx, args[1:], out)
	case "task":
		return cmdTask(ctx, args[1:], out)
	case "grants":
		return cmdGrants(ctx, args[1:], out)
	case "entitlement":
		return cmdEntitlement(ctx, args[1:], out)
	case "group":
		return cmdGroup(ctx, args[1:], out)
	case "device":
		return cmdDevice(ctx, args[1:], out)
	case "-h", "--help", "help":
		fmt.Fprintln(out, usage)
		return nil
	}
	return &exitError{2, fmt.Errorf("unknown command %q\n%s", args[0], usage)}
}
