// Command porthole-agent runs on each endpoint.
//
//	porthole-agent enroll --broker URL --token TOKEN [--state-dir DIR]
//	porthole-agent run [--state-dir DIR]
//	porthole-agent elevate [--code CODE] [--status]   (as the end user)
//	porthole-agent request-admin --reason TEXT        (as the end user)
//	porthole-agent request-support [--name N --email E --phone P --reason R]
//	porthole-agent install --broker URL --token TOKEN      (Windows, as administrator)
//	porthole-agent uninstall [--keep-state]                (Windows, as administrator)
//	porthole-agent service                                 (Windows: started by the SCM)
//	porthole-agent helper --pipe NAME                      (Windows: started by the service)
//
// Flags can also be set as PORTHOLE_<FLAG> environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"porthole/agent"
	"porthole/agent/accounts"
	"porthole/agent/consent"
	"porthole/agent/elevation"
	"porthole/agent/platform"
	"porthole/agent/request"
	"porthole/agent/support"
	"porthole/internal/cli"
	"porthole/internal/wire"
)

const usage = `usage:
  porthole-agent enroll --broker URL --token TOKEN [--ca-cert FILE] [--state-dir DIR]
  porthole-agent run [--state-dir DIR] [--socket PATH] [--prompt P]
                     [--elevation=false] [--elevation-socket PATH]
                     [--breakglass-prefix P] [--accounts-root DIR]
                     [Linux: --display D --xauthority F --sudoers-dir DIR --desktop-dir DIR]
                     [Windows: --helper off|session|spawn]
  porthole-agent request-support [--socket PATH] [--name N] [--email E] [--phone P] [--reason R]
  porthole-agent elevate [--code CODE] [--status] [--socket PATH]
  porthole-agent request-admin --reason TEXT [--socket PATH]
  porthole-agent install --broker URL --token TOKEN [--ca-cert FILE] [--state-dir DIR]   (Windows)
  porthole-agent uninstall [--keep-state] [--state-dir DIR]                               (Windows)
  porthole-agent service [run flags]      (Windows: the service's command line)
  porthole-agent helper --pipe NAME       (Windows: started by the service in the user's session)`

func main() {
	cli.Main("porthole-agent", usage, map[string]cli.Command{"enroll": enroll, "run": run, "elevate": elevate,
		"request-admin": requestAdmin, "request-support": requestSupport,
		"install": install, "uninstall": uninstall, "service": service, "helper": helperCmd})
}

func common(fs *flag.FlagSet) (*string, *string, *string) {
	return fs.String("state-dir", platform.DefaultStateDir, "directory for the device key and enrollment"),
		fs.String("log-level", "info", "log level: debug, info, warn, error"),
		fs.String("log-format", "text", "log format: text or json")
}

func enroll(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	state, _, _ := common(fs)
	broker := fs.String("broker", "", "broker URL, e.g. https://porthole.example.com")
	token := fs.String("token", "", "enrollment token from the portal or 'porthole token create'")
	ca := fs.String("ca-cert", "", "PEM certificate to trust for the broker (e.g. its self-signed tls-cert.pem)")
	if err := cli.Parse(fs, args, ""); err != nil {
		return err
	}
	if *broker == "" || *token == "" {
		return errors.New("--broker and --token are required")
	}
	id, err := agent.Enroll(ctx, agent.Config{StateDir: *state, Displays: platform.Displays()}, *broker, *token, *ca)
	if err != nil {
		return err
	}
	fmt.Printf("Enrolled as device %s. Start the agent with: porthole-agent run --state-dir %s\n", id.DeviceID, *state)
	return nil
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	state, level, format := common(fs)
	prompt := fs.String("prompt", platform.DefaultPrompt, "how to ask the end user: "+platform.DefaultPrompt+" (desktop dialogs) or terminal")
	fps := fs.Int("fps", 30, "maximum frames per second")
	bitrate := fs.Int("bitrate", 2500, "video bitrate cap in kbit/s")
	threads := fs.Int("encoder-threads", 1, "libvpx encoder threads")
	elev := fs.Bool("elevation", true, "accept temporary admin codes (porthole-agent elevate)")
	elevSock := fs.String("elevation-socket", platform.DefaultElevateSocket, "local socket for porthole-agent elevate")
	secretPattern := fs.String("secret-pattern", elevation.DefaultSecretPattern, "regexp of secrets redacted from recorded command lines")
	bgPrefix := fs.String("breakglass-prefix", accounts.DefaultPrefix, "how generated break-glass usernames start")
	bgRoot := fs.String("accounts-root", "", "manage the accounts of this directory (etc/passwd… under it) instead of the machine's: for tests and demos only")
	clockFile := fs.String("test-clock-offset-file", "", "tests only (needs "+testClockEnv+"=1): break-glass deadlines use the real time plus the duration in this file")
	socket := fs.String("socket", "", "local socket for 'porthole-agent request-support' (default STATE-DIR/request.sock)")
	unattended := fs.String("unattended", wire.UnattendedDeny, "this endpoint's own policy for sessions that skip the end user's consent: deny or allow "+
		"(the broker cannot change it; allow only on machines nobody sits at)")
	fs.String("config", "", "optional JSON config file whose keys are these flag names (e.g. {\"unattended\": \"allow\"})")
	var po platform.Options
	po.AddFlags(fs)
	if err := cli.Parse(fs, args, "config"); err != nil {
		return err
	}
	if *unattended != wire.UnattendedDeny && *unattended != wire.UnattendedAllow {
		return fmt.Errorf("--unattended %q: the unattended policy is %s or %s", *unattended, wire.UnattendedDeny, wire.UnattendedAllow)
	}
	if *socket == "" {
		*socket = platform.DefaultRequestSocket(*state)
	}
	log, err := cli.Logger(*level, *format)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	acfg := accounts.Config{Root: *bgRoot}
	if clk, err := testClock(*clockFile); err != nil {
		return err
	} else if clk != nil {
		acfg.Clock = clk
	}
	cfg := agent.Config{StateDir: *state, Logger: log,
		Support:  support.Config{FPS: *fps, BitrateKbps: *bitrate, Threads: *threads},
		Request:  request.Config{Socket: *socket, Command: []string{self, "request-support", "--socket", *socket}, Logger: log},
		Accounts: acfg, AccountPrefix: *bgPrefix, Unattended: *unattended}
	if *elev && !platform.Privileged() {
		// Granting admin rights needs root (an elevated administrator on
		// Windows): the service runs so.
		log.Warn("not running as root: temporary admin codes are off")
		*elev = false
	}
	if *elev {
		cfg.Elevation = &agent.ElevationConfig{Socket: *elevSock,
			Manager: elevation.Config{SecretPattern: *secretPattern}}
	}
	switch *prompt {
	case platform.DefaultPrompt:
	case "terminal":
		t := consent.NewTerminal(os.Stdin, os.Stdout)
		defer t.Close()
		cfg.Support.Asker, cfg.Support.Indicator = t, t
	default:
		return fmt.Errorf("--prompt %q: want %s or terminal", *prompt, platform.DefaultPrompt)
	}
	if err := platform.Assemble(&cfg, po, *prompt == platform.DefaultPrompt, log); err != nil {
		return err
	}
	a, err := agent.New(cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// requestSupport asks IT for remote support through the running agent.
// Without details the agent shows its desktop form.
func requestSupport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("request-support", flag.ContinueOnError)
	state := fs.String("state-dir", platform.DefaultStateDir, "the agent's state directory (for the default socket)")
	socket := fs.String("socket", "", "the running agent's request socket (default STATE-DIR/request.sock)")
	var l request.Local
	fs.StringVar(&l.Name, "name", "", "your name")
	fs.StringVar(&l.Email, "email", "", "your email address")
	fs.StringVar(&l.Phone, "phone", "", "your phone number")
	fs.StringVar(&l.Reason, "reason", "", "what you need help with")
	if err := cli.Parse(fs, args, ""); err != nil {
		return err
	}
	if *socket == "" {
		*socket = platform.DefaultRequestSocket(*state)
	}
	if err := l.Validate(); err != nil {
		return err
	}
	final, err := request.Ask(ctx, *socket, l, func(r request.Reply) {
		if r.Status != "error" {
			fmt.Println(r.Message)
		}
	})
	if err != nil {
		return err
	}
	switch final.Status {
	case "approved":
		return nil
	case "error":
		return errors.New(final.Message)
	}
	return fmt.Errorf("support request %s", final.Status)
}
