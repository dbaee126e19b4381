package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"porthole/agent"
	"porthole/agent/accounts"
	"porthole/agent/helper"
	"porthole/agent/identity"
	"porthole/agent/localsock"
	"porthole/agent/platform"
	"porthole/agent/winservice"
	"porthole/internal/cli"
)

// The Windows service model (agent/winservice, agent/helper): install,
// the service itself, the helper in the user's session, and uninstall.
// On other systems these commands fail with winservice.ErrUnsupported
// (helper works anywhere but is only started on Windows).

// install enrolls (if not yet), protects the state directory and installs
// and starts the service. Run as an administrator.
func install(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	state := fs.String("state-dir", platform.DefaultStateDir, "directory for the device key and enrollment")
	broker := fs.String("broker", "", "broker URL, e.g. https://porthole.example.com (needed unless already enrolled)")
	token := fs.String("token", "", "enrollment token (needed unless already enrolled)")
	ca := fs.String("ca-cert", "", "PEM certificate to trust for the broker")
	if err := cli.Parse(fs, args, ""); err != nil {
		return err
	}
	if !platform.Privileged() {
		return errors.New("install needs an elevated administrator (Run as administrator)")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return err
	}
	dir, err := filepath.Abs(*state)
	if err != nil {
		return err
	}
	// The directory is protected before any key is written into it.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := winservice.ProtectDir(dir); err != nil {
		return err
	}
	id, err := identity.Load(dir)
	switch {
	case errors.Is(err, identity.ErrNotEnrolled):
		if *broker == "" || *token == "" {
			return errors.New("not enrolled yet: --broker and --token are required")
		}
		if id, err = agent.Enroll(ctx, agent.Config{StateDir: dir, Displays: platform.Displays()}, *broker, *token, *ca); err != nil {
			return err
		}
		fmt.Printf("Enrolled as device %s.\n", id.DeviceID)
	case err != nil:
		return err
	default:
		fmt.Printf("Already enrolled as device %s (broker %s); keeping that enrollment.\n", id.DeviceID, id.BrokerURL)
	}
	cfg := winservice.Config{Exe: exe, StateDir: dir, DefaultStateDir: platform.DefaultStateDir}
	if err := winservice.Install(winservice.Name, cfg, true); err != nil {
		return err
	}
	fmt.Printf("Service %q installed and started: %s\n", winservice.Name, cfg.CommandLine())
	return nil
}

// service is what the service control manager starts: run, with the
// helper in the console user's session and the log in the state dir.
func service(_ context.Context, args []string) error {
	state := platform.DefaultStateDir
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--state-dir="); ok {
			state = v
		} else if a == "--state-dir" && i+1 < len(args) {
			state = args[i+1]
		}
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	logf, err := winservice.OpenLog(state)
	if err != nil {
		return err
	}
	defer logf.Close()
	if f, ok := logf.(*os.File); ok {
		os.Stderr = f // the service has no console: run logs to stderr
	}
	if !slices.ContainsFunc(args, func(a string) bool { return a == "--helper" || strings.HasPrefix(a, "--helper=") }) {
		args = append([]string{"--helper=session"}, args...)
	}
	err = winservice.Run(winservice.Name, func(ctx context.Context) error {
		err := run(ctx, args)
		if err != nil {
			fmt.Fprintln(os.Stderr, "porthole-agent service:", err)
		}
		return err
	})
	if err != nil {
		// StartServiceCtrlDispatcher fails at once outside the SCM.
		return fmt.Errorf("%w (service is started by the Windows service control manager; to run the agent by hand use run)", err)
	}
	return nil
}

// helperCmd is the helper the service starts in the user's session: it
// connects to the service's pipe and does capture, input and dialogs.
func helperCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("helper", flag.ContinueOnError)
	pipe := fs.String("pipe", "", "the service's pipe for this helper")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	var po platform.Options
	po.AddFlags(fs)
	if err := cli.Parse(fs, args, ""); err != nil {
		return err
	}
	if *pipe == "" {
		return errors.New("--pipe is required")
	}
	log, err := cli.Logger(*level, "text")
	if err != nil {
		return err
	}
	l, err := platform.HelperLocal(po, log)
	if err != nil {
		log.Warn("helper serves without some services", "err", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := localsock.Dial(dctx, *pipe)
	cancel()
	if err != nil {
		return fmt.Errorf("connect to the agent service: %w", err)
	}
	return helper.Serve(ctx, c, l)
}

// uninstall stops the service, removes every break-glass account and
// elevation grant the agent made (so that no administrator outlives it),
// deletes the service and, unless --keep-state, the state directory.
func uninstall(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("uninstall", flag.ContinueOnError)
	state := fs.String("state-dir", platform.DefaultStateDir, "the agent's state directory")
	keep := fs.Bool("keep-state", false, "keep the state directory (enrollment, journals, undelivered audit events)")
	wait := fs.Duration("deliver-timeout", 30*time.Second, "how long to try to deliver the removals' audit events to the broker")
	if err := cli.Parse(fs, args, ""); err != nil {
		return err
	}
	if !platform.Privileged() {
		return errors.New("uninstall needs an elevated administrator (Run as administrator)")
	}
	sctx, cancel := context.WithTimeout(ctx, winservice.StopWait+10*time.Second)
	defer cancel()
	if err := winservice.Stop(sctx, winservice.Name); err != nil && !errors.Is(err, winservice.ErrNotInstalled) {
		return err
	}
	if _, err := identity.Load(*state); err == nil {
		log, _ := cli.Logger("warn", "text")
		a, err := agent.New(agent.Config{StateDir: *state, Logger: log, AccountPrefix: accounts.DefaultPrefix,
			Elevation: &agent.ElevationConfig{Socket: platform.DefaultElevateSocket}})
		if err != nil {
			return fmt.Errorf("open the agent's journals: %w (nothing was removed; the service is stopped)", err)
		}
		pctx, cancel := context.WithTimeout(ctx, *wait)
		left, err := a.Purge(pctx)
		cancel()
		if err != nil {
			return fmt.Errorf("remove break-glass accounts and elevation grants: %w (the service is stopped but still installed; retry uninstall)", err)
		}
		fmt.Println("Removed every break-glass account and elevation grant of this agent.")
		if left > 0 {
			fmt.Printf("%d audit event(s) could not be delivered to the broker; they stay in %s.\n", left, *state)
			*keep = true
		}
	}
	if err := winservice.Delete(sctx, winservice.Name); err != nil && !errors.Is(err, winservice.ErrNotInstalled) {
		return err
	}
	fmt.Printf("Service %q removed.\n", winservice.Name)
	if *keep {
		fmt.Printf("State kept in %s.\n", *state)
		return nil
	}
	if err := os.RemoveAll(*state); err != nil {
		return err
	}
	fmt.Printf("Removed %s.\n", *state)
	return nil
}
