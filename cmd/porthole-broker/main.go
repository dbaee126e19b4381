// Command porthole-broker is the Porthole server.
//
//	porthole-broker serve --listen 127.0.0.1:8443 --data-dir /var/lib/porthole
//	porthole-broker admin create --data-dir DIR --user NAME --role technician
//	porthole-broker admin rename --data-dir DIR --id ID --to NEW_NAME
//
// Every flag can also be set as PORTHOLE_<FLAG> (e.g. PORTHOLE_DATA_DIR) or
// in a JSON file given with --config.
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"porthole/broker"
	"porthole/broker/audit"
	"porthole/broker/auth"
	"porthole/broker/recording/s3"
	"porthole/broker/sso"
	"porthole/broker/store"
	"porthole/internal/cli"
	"porthole/internal/wire"
)

const usage = `usage:
  porthole-broker serve [flags]                     run the broker
  porthole-broker admin create --user NAME --role ROLE [--data-dir DIR]
                                                    add a portal user (prints its password once)
  porthole-broker admin rename --id ID --to NEW_NAME [--data-dir DIR] [--audit-key-file F]
                                                    rename a portal user, with the broker stopped (for
                                                    usernames that differ only in case; audited)
  porthole-broker audit verify [--data-dir DIR] [--audit-key-file F | --public-key KEY]
                                                    check the audit log with the broker stopped
                                                    (exit 1 names the first bad record)
  porthole-broker backup --to FILE [--data-dir DIR] [--passphrase-file F]
                                                    back up the database and key files (broker may run)
  porthole-broker restore --from FILE --data-dir DIR [--force] [--passphrase-file F]
                                                    restore a backup and verify its audit chain
Run "porthole-broker serve -h" for the flags.`

func main() {
	cli.Main("porthole-broker", usage, map[string]cli.Command{"serve": serve, "admin": admin, "audit": auditCmd,
		"backup": backupCmd, "restore": restoreCmd})
}

func defaultDataDir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "porthole-broker")
	}
	return "porthole-data"
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg broker.Config
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8443", "address to serve the portal, API and agent links on")
	fs.StringVar(&cfg.DataDir, "data-dir", defaultDataDir(), "directory for the database, TLS certificate and recordings")
	fs.StringVar(&cfg.TLS, "tls", "", "TLS mode: off, self-signed or files (default: files if --tls-cert is set, off on a loopback address, else self-signed)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate file (with --tls-key)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key file")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", 15*time.Second, "agent heartbeat interval; an agent silent for 3 intervals is offline")
	fs.DurationVar(&cfg.SessionIdle, "session-idle", 30*time.Minute, "portal session idle timeout")
	fs.DurationVar(&cfg.SessionAbsolute, "session-absolute", 12*time.Hour, "portal session absolute timeout")
	fs.IntVar(&cfg.UDPPort, "webrtc-udp-port", 0, "the one UDP port every WebRTC session uses (0 = pick a free one at start; set it to open a firewall)")
	fs.IntVar(&cfg.ICETCPPort, "ice-tcp-port", 0, "TCP port for ICE-TCP fallback when UDP is blocked (0 = off)")
	fs.StringVar(&cfg.AuditSyslog, "audit-syslog", "", "forward audit events to syslog (RFC 5424): tcp://host:port or udp://host:port")
	fs.StringVar(&cfg.AuditWebhook, "audit-webhook", "", "POST each audit event as JSON to this URL (retried with backoff; HMAC-signed with $PORTHOLE_AUDIT_WEBHOOK_SECRET if set)")
	fs.StringVar(&cfg.RecordingsDir, "recordings-dir", "", "directory for session recordings (default DATA_DIR/recordings)")
	recordings := fs.String("recordings", "", "where recordings go: a directory (like --recordings-dir) or s3://bucket/prefix (see the --s3-* flags; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or --s3-credentials-file)")
	var s3cfg s3.Config
	fs.StringVar(&s3cfg.Endpoint, "s3-endpoint", "", "S3 server URL, e.g. https://s3.example.com or http://127.0.0.1:8333 (default AWS S3 in --s3-region)")
	fs.StringVar(&s3cfg.Region, "s3-region", "", "S3 region")
	fs.BoolVar(&s3cfg.PathStyle, "s3-path-style", false, "address the bucket in the URL path (most self-hosted servers) rather than as a subdomain")
	fs.Int64Var(&s3cfg.PartSize, "s3-part-size", s3.DefaultPartSize, "multipart upload part size in bytes (at least 5 MiB): what a crash that also loses the local spool can lose")
	fs.StringVar(&s3cfg.LockMode, "s3-object-lock-mode", "", "put an S3 Object Lock retention on every recording object: GOVERNANCE or COMPLIANCE (the bucket must have Object Lock enabled)")
	fs.IntVar(&s3cfg.LockDays, "s3-object-lock-days", 0, "Object Lock retention in days (with --s3-object-lock-mode)")
	s3credsFile := fs.String("s3-credentials-file", "", "AWS shared credentials file (profile [default]) holding the S3 access key and secret (else the AWS_* environment variables)")
	fs.Int64Var(&cfg.RecordingMaxBytes, "recording-max-bytes", 0, "cap on one recording's size; past it the recording stops like on a full disk (0 = no cap)")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "the portal's URL as users reach it: links in request emails, the OIDC redirect URI and the passkeys' relying party (default: from --listen)")
	oidcConfig := fs.String("oidc-config", "", "JSON file of the OpenID Connect providers users sign in with (see README: Identity providers)")
	fs.IntVar(&cfg.PasswordHashes, "password-hashes", 0, "password hashes run at once, 64 MiB each (0 = 2 × cores); more logins wait briefly, then get 503")
	fs.DurationVar(&cfg.PasswordHashWait, "password-hash-wait", 3*time.Second, "how long a login waits for a password hash slot before 503")
	fs.StringVar(&cfg.AuditKeyFile, "audit-key-file", "", "the audit log's signing key (default DATA_DIR/audit.key, created once; $PORTHOLE_AUDIT_KEY wins); keep it outside the data dir")
	fs.BoolVar(&cfg.AuditAdopt, "audit-adopt", false, "sign the head of an existing audit log that has none (once, the first start with a signing key from --audit-key-file or $PORTHOLE_AUDIT_KEY)")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics (and /readyz, /healthz) on this address, apart from the portal, e.g. 127.0.0.1:9464 (default off)")
	metricsTokenFile := fs.String("metrics-token-file", "", "file holding the bearer token /metrics requires (else $PORTHOLE_METRICS_TOKEN; needed on a non-loopback --metrics-listen)")
	smtpPasswordFile := fs.String("smtp-password-file", "", "file holding the SMTP password for request emails (else $PORTHOLE_SMTP_PASSWORD)")
	trustedProxies := fs.String("trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client (default none: the header is ignored)")
	publicIPs := fs.String("public-ip", "", "comma-separated public IPv4 addresses to advertise for WebRTC (NAT 1:1)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	initialPassword := fs.String("initial-password-file", "", "on first run, write the one-time admin password to this new file (mode 0600) instead of standard output (so it never reaches a service's journal)")
	fs.String("config", "", "optional JSON config file whose keys are these flag names")
	if err := cli.Parse(fs, args, "config"); err != nil {
		return err
	}
	if *initialPassword != "" {
		cfg.Out = &firstRunFile{path: *initialPassword}
	}
	log, err := cli.Logger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	cfg.Logger = log
	// A secret belongs in the environment, never on the command line.
	if sec := os.Getenv("PORTHOLE_AUDIT_WEBHOOK_SECRET"); sec != "" {
		cfg.AuditWebhookSecret = []byte(sec)
	}
	cfg.SMTPPassword = os.Getenv("PORTHOLE_SMTP_PASSWORD")
	if *smtpPasswordFile != "" {
		b, err := os.ReadFile(*smtpPasswordFile)
		if err != nil {
			return fmt.Errorf("smtp password: %w", err)
		}
		cfg.SMTPPassword = strings.TrimRight(string(b), "\r\n")
	}
	if *oidcConfig != "" {
		oc, err := sso.LoadConfig(*oidcConfig)
		if err != nil {
			return err
		}
		cfg.OIDC = oc.Providers
	}
	switch {
	case strings.HasPrefix(*recordings, "s3://"):
		if err := s3cfg.ParseURL(*recordings); err != nil {
			return err
		}
		if *s3credsFile != "" {
			s3cfg.Credentials = credentials.NewFileAWSCredentials(*s3credsFile, "default")
		}
		cfg.RecordingsS3 = &s3cfg
	case *recordings != "":
		cfg.RecordingsDir = *recordings
	}
	cfg.MetricsToken = os.Getenv("PORTHOLE_METRICS_TOKEN")
	if *metricsTokenFile != "" {
		b, err := os.ReadFile(*metricsTokenFile)
		if err != nil {
			return fmt.Errorf("metrics token: %w", err)
		}
		cfg.MetricsToken = strings.TrimRight(string(b), "\r\n")
	}
	for _, ip := range strings.Split(*publicIPs, ",") {
		if ip = strings.TrimSpace(ip); ip != "" {
			cfg.PublicIPs = append(cfg.PublicIPs, ip)
		}
	}
	if cfg.TrustedProxies, err = parsePrefixes(*trustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	srv, err := broker.New(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("Porthole broker: portal at %s/ (data in %s)\n", srv.URL(), cfg.DataDir)
	return srv.Run(ctx)
}

func admin(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "rename" {
		return adminRename(ctx, args[1:])
	}
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("unknown admin command\n%s", usage)
	}
	fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(), "broker data directory")
	user := fs.String("user", "", "username")
	roleName := fs.String("role", "technician", "role: admin, technician or auditor")
	keyFile := fs.String("audit-key-file", "", "the audit log's signing key, as for serve")
	if err := cli.Parse(fs, args[1:], ""); err != nil {
		return err
	}
	if *user == "" {
		return errors.New("--user is required")
	}
	role, err := auth.ParseRole(*roleName)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, filepath.Join(*dataDir, "porthole.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	log, err := broker.OpenAuditOffline(ctx, st, *dataDir, *keyFile)
	if err != nil {
		return err
	}
	defer log.Close()
	pw, err := broker.CreateUser(ctx, st, log, *user, role, "")
	if err != nil {
		return err
	}
	fmt.Printf("Created %s user %q. Password (shown once):\n\n    %s\n\n", role, wire.FoldUsername(*user), pw)
	return nil
}

// adminRename renames a portal user with the broker stopped: the way out
// when the broker refuses to start because usernames now fold case and two
// accounts differ only in case. It works on a database whose folding
// migration is still refused, and audits the rename (actor "system").
func adminRename(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("admin rename", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(), "broker data directory")
	id := fs.String("id", "", "the account's id (the broker's refusal lists them)")
	to := fs.String("to", "", "the new username")
	keyFile := fs.String("audit-key-file", "", "the audit log's signing key, as for serve")
	if err := cli.Parse(fs, args, ""); err != nil {
		return err
	}
	if *id == "" || *to == "" {
		return errors.New("--id and --to are required")
	}
	if err := wire.ValidateUsername(*to); err != nil {
		return err
	}
	st, blocked, err := store.OpenForRepair(ctx, filepath.Join(*dataDir, "porthole.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByID(ctx, *id)
	if err != nil {
		return fmt.Errorf("user %s: %w", *id, err)
	}
	name := wire.FoldUsername(*to)
	log, err := broker.OpenAuditOffline(ctx, st, *dataDir, *keyFile)
	if err != nil {
		return err
	}
	defer log.Close()
	if _, err := log.Append(ctx, audit.Event{Actor: "system", Action: "user.renamed", Target: u.ID,
		Details: map[string]any{"from": u.Username, "to": name, "via": "porthole-broker admin rename"}}); err != nil {
		return err
	}
	if err := st.RenameUser(ctx, u.ID, name); err != nil {
		return err
	}
	fmt.Printf("Renamed user %q (id %s) to %q.\n", u.Username, u.ID, name)
	if blocked != nil {
		fmt.Println("Start the broker again; it says so if other accounts still differ only in case.")
	}
	return nil
}

// parsePrefixes reads comma-separated CIDRs; a bare address is one host.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range strings.Split(list, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if !strings.Contains(v, "/") {
			a, err := netip.ParseAddr(v)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// auditCmd is "porthole-broker audit verify": the audit log checked from
// the data dir with the broker stopped, read-only, against the signing
// key's public half (from the key, or pinned with --public-key).
func auditCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return fmt.Errorf("unknown audit command\n%s", usage)
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(), "broker data directory")
	keyFile := fs.String("audit-key-file", "", "the audit log's signing key, as for serve")
	publicKey := fs.String("public-key", "", "check against this public key (base64, or a file holding it) instead of the signing key's")
	if err := cli.Parse(fs, args[1:], ""); err != nil {
		return err
	}
	var pub ed25519.PublicKey
	var err error
	if *publicKey != "" {
		pub, err = audit.ParsePublicKey(*publicKey)
	} else {
		pub, err = audit.LoadPublicKey(*dataDir, *keyFile, os.LookupEnv)
	}
	if err != nil {
		return err
	}
	st, err := store.OpenReadOnly(ctx, filepath.Join(*dataDir, "porthole.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	log := audit.New(st, nil, audit.NewAnchor(broker.AuditAnchorPath(*dataDir))).WithPublicKey(pub)
	defer log.Close()
	n, err := log.Verify(ctx)
	if err != nil {
		return fmt.Errorf("audit log is NOT intact: %w (%d records verified before it)", err, n)
	}
	fmt.Printf("audit log intact: %d records verified; signed head checked with key %s\n", n, audit.Fingerprint(pub))
	return nil
}

// firstRunFile receives the first-run credentials: it creates its file
// (0600, never overwriting one) on the first write only, so a broker that
// has users leaves no file behind.
type firstRunFile struct {
	path string
	f    *os.File
}

func (w *firstRunFile) Write(p []byte) (int, error) {
	if w.f == nil {
		f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return 0, fmt.Errorf("initial password file: %w", err)
		}
		w.f = f
		fmt.Fprintf(os.Stdout, "First run: the admin password is in %s\n", w.path)
	}
	n, err := w.f.Write(p)
	if err == nil {
		err = w.f.Sync()
	}
	return n, err
}
