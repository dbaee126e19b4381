package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"porthole/agent/elevsock"
	"porthole/agent/platform"
	"porthole/internal/cli"
)

// elevate is run by the end user: it sends a temporary admin code to the
// agent service, which verifies it and grants admin rights to the account
// that runs this command (the service asks the kernel who that is).
func elevate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("elevate", flag.ContinueOnError)
	sock := fs.String("socket", platform.DefaultElevateSocket, "the agent's elevation socket")
	code := fs.String("code", "", "the code from your helpdesk (asked for when not given)")
	status := fs.Bool("status", false, "show how long you stay administrator")
	if err := cli.Parse(fs, args, ""); err != nil {
		return err
	}
	req := elevsock.Request{Op: elevsock.OpStatus}
	if !*status {
		c := strings.TrimSpace(*code)
		if c == "" {
			var err error
			if c, err = prompt(os.Stdin, os.Stdout); err != nil {
				return err
			}
		}
		req = elevsock.Request{Op: elevsock.OpElevate, Code: c}
	}
	resp, err := elevsock.Ask(ctx, *sock, req)
	if err != nil {
		return err
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	left := resp.Until.Sub(resp.Now).Round(time.Second)
	if *status {
		fmt.Printf("%s is an administrator until %s (%s left).\n", resp.User, resp.Until.Local().Format(time.TimeOnly), left)
		return nil
	}
	fmt.Printf("%s is an administrator until %s (%s left). Use sudo; the right is removed at that time.\n",
		resp.User, resp.Until.Local().Format(time.TimeOnly), left)
	return nil
}

func prompt(in io.Reader, out io.Writer) (string, error) {
	fmt.Fprint(out, "Temporary admin code: ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("no code entered: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// requestAdmin is run by the end user: members of a self-approving group
// (elevation.self_approve_groups) are elevated at once; anyone else's
// request goes to the helpdesk, whose approval elevates them.
func requestAdmin(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("request-admin", flag.ContinueOnError)
	sock := fs.String("socket", platform.DefaultElevateSocket, "the agent's elevation socket")
	reason := fs.String("reason", "", "why you need administrator rights (required)")
	if err := cli.Parse(fs, args, ""); err != nil {
		return err
	}
	if strings.TrimSpace(*reason) == "" {
		return errors.New("--reason is required")
	}
	resp, err := elevsock.Ask(ctx, *sock, elevsock.Request{Op: elevsock.OpRequest, Reason: *reason})
	if err != nil {
		return err
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	if resp.SelfApproved {
		fmt.Printf("Self-approved: %s is an administrator until %s (%s left). This is recorded.\n",
			resp.User, resp.Until.Local().Format(time.TimeOnly), resp.Until.Sub(resp.Now).Round(time.Second))
		return nil
	}
	fmt.Printf("Request %s sent to your helpdesk. Once approved you become an administrator; check with: porthole-agent elevate --status\n", resp.RequestID)
	return nil
}
