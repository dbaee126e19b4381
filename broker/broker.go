// Package broker assembles the Porthole server: store, audit log, auth, the
// agent hub and the HTTP API with the embedded portal.
package broker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"porthole/broker/access"
	"porthole/broker/agentevents"
	"porthole/broker/agents"
	"porthole/broker/archive"
	"porthole/broker/audit"
	"porthole/broker/auditstream"
	"porthole/broker/auth"
	"porthole/broker/breakglass"
	"porthole/broker/conns"
	"porthole/broker/devicekey"
	"porthole/broker/elevation"
	"porthole/broker/httpapi"
	"porthole/broker/lifecycle"
	"porthole/broker/live"
	"porthole/broker/metrics"
	"porthole/broker/mfa"
	"porthole/broker/mfa/mfasql"
	"porthole/broker/notify"
	"porthole/broker/passkey"
	"porthole/broker/recording"
	"porthole/broker/recording/s3"
	"porthole/broker/requests"
	"porthole/broker/secretbox"
	"porthole/broker/sessions"
	"porthole/broker/settings"
	"porthole/broker/sso"
	"porthole/broker/store"
	"porthole/internal/clock"
	"porthole/internal/rtcnet"
	"porthole/internal/wire"
	"porthole/webclient"
)

// TLS modes.
const (
	TLSOff        = "off"         // plain HTTP (fine on localhost, which browsers treat as secure)
	TLSSelfSigned = "self-signed" // a certificate generated into the data dir
	TLSFiles      = "files"       // TLSCert and TLSKey
)

// Config is everything the broker needs. Zero values get documented defaults in New.
type Config struct {
	Listen          string        // default 127.0.0.1:8443
	DataDir         string        // required
	TLS             string        // off | self-signed | files; default: files if TLSCert set, off on loopback, else self-signed
	TLSCert, TLSKey string        //
	Heartbeat       time.Duration // agent heartbeat, default 15s
	SessionIdle     time.Duration // portal idle timeout, default 30m
	SessionAbsolute time.Duration // portal absolute timeout, default 12h
	// WebRTC: one UDP port for every session (0 = pick one), optional
	// ICE-TCP port (0 = off), public IPs for NAT 1:1.
	UDPPort    int
	ICETCPPort int
	PublicIPs  []string
	Logger     *slog.Logger
	Clock      clock.Clock
	// NewTicker drives session expiry watchers (default: real tickers);
	// tests pass sessionstest.Ticks.NewTicker together with a fake Clock.
	NewTicker func(time.Duration) sessions.Ticker
	// Audit streaming (optional): syslog "tcp://host:port" or
	// "udp://host:port", a webhook URL, and the webhook's HMAC secret.
	AuditSyslog, AuditWebhook string
	AuditWebhookSecret        []byte
	// RecordingsDir holds session recordings (default DATA_DIR/recordings).
	RecordingsDir string
	// RecordingsS3, when set, keeps recordings in an S3-compatible bucket
	// instead (its SpoolDir defaults to DATA_DIR/recordings-spool).
	RecordingsS3 *s3.Config
	// RetentionInterval is how often expired recordings are deleted
	// (default archive.DefaultInterval).
	RetentionInterval time.Duration
	// RecordingMaxBytes caps each recording; past it the recording stops
	// like on a full disk (the recording.required setting decides whether
	// the session goes on). Zero means no cap.
	RecordingMaxBytes int64
	// PublicURL is the portal's address as users reach it (behind a proxy
	// or a DNS name), for links in emails; default URL().
	PublicURL string
	// SMTPPassword authenticates request emails to the notify.smtp_host
	// server as notify.smtp_username (from PORTHOLE_SMTP_PASSWORD or
	// --smtp-password-file; never a setting, never logged).
	SMTPPassword string
	// NotifyBackoff is the wait before a failed request email's first
	// retry (default 5s, doubling; tests shorten it).
	NotifyBackoff time.Duration
	// PasswordHashes bounds the argon2id password hashes (64 MiB each) that
	// run at once (default 2 × cores); PasswordHashWait bounds how long a
	// login waits for one (default 3s) before it is answered 503 with
	// Retry-After. A few waiters per slot are queued, the rest refused at
	// once, so a spray of logins cannot take the broker's memory.
	PasswordHashes   int
	PasswordHashWait time.Duration
	// AuditKeyFile holds the audit log's Ed25519 signing key (default
	// DATA_DIR/audit.key, created once; PORTHOLE_AUDIT_KEY wins). Keep it
	// outside the data dir so that writing the data dir is not enough to
	// rewrite the log (ADR 0010).
	AuditKeyFile string
	// AuditAdopt signs the head of an existing log that has none, once:
	// the first start with a signing key from the environment or a file.
	AuditAdopt bool
	// TrustedProxies are the reverse proxies (CIDRs) whose X-Forwarded-For
	// header names the client; from any other peer the header is ignored.
	TrustedProxies []netip.Prefix
	// FailureWindow is how long unauthenticated failures (bad enrollment
	// tokens, failed agent authentications) from one address are summed into
	// one audit record (default audit.DefaultCoalesceWindow).
	FailureWindow time.Duration
	// MetricsListen is where /metrics (Prometheus), /readyz and /healthz
	// are served, apart from the portal ("" = no metrics). An address that
	// is not loopback needs MetricsToken.
	MetricsListen string
	// MetricsToken, when set, is the bearer token /metrics requires (from
	// PORTHOLE_METRICS_TOKEN or --metrics-token-file; never logged).
	MetricsToken string
	// OIDC are the identity providers users may sign in with (from
	// --oidc-config; client secrets already resolved from files or the
	// environment by sso.New). Empty: local accounts only.
	OIDC []sso.ProviderConfig
	// Out receives the one-time first-run admin credentials (default os.Stdout).
	// They are printed once and never logged.
	Out io.Writer
}

// Server is a configured broker.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	audit    *audit.Log
	auth     *auth.Authenticator
	live     *live.Hub
	agents   *agents.Hub
	sess     *sessions.Manager
	settings *settings.Settings
	mfa      *httpapi.MFA
	rtc      io.Closer
	ln       net.Listener
	stream   *auditstream.Streamer
	recs     *recording.Store
	archive  *archive.Archive
	// events records agents' outbox events; features register their
	// event areas on it.
	events *agentevents.Recorder
	// elevation issues temporary admin codes and stores what agents
	// report about elevations.
	elevation *elevation.Service
	// bg is break glass (temporary local administrators).
	bg   *breakglass.Service
	reqs *requests.Manager
	push *settings.Pusher
	// acc runs entitlements and access requests.
	acc *access.Service
	// notify emails new requests; set at the end of New, read-only after.
	notify *notify.Notifier
	// conns are the open portal and API websockets; life changes users
	// and ends what they hold (the kill switch).
	conns *conns.Registry
	life  *lifecycle.Service
	// failures sums the audit records of unauthenticated failures.
	failures *audit.Coalescer
	// keys seals, opens and rotates devices' elevation-code keys.
	keys *devicekey.Service
	// metrics counts what the broker does; metricsLn serves it (nil: off).
	metrics   *metrics.Metrics
	metricsLn net.Listener
	// sso signs users in at identity providers; publicURL is where users reach the portal.
	sso       *sso.Service
	publicURL string
	passkeys  *passkey.Service
}

// New validates cfg, opens the store (migrating it) and binds the listener,
// so a port clash is reported before Run.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("broker: data dir required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8443"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.TLS == "" {
		cfg.TLS = defaultTLS(cfg)
	}
	switch cfg.TLS {
	case TLSOff, TLSSelfSigned:
	case TLSFiles:
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			return nil, errors.New("broker: --tls files needs --tls-cert and --tls-key")
		}
	default:
		return nil, fmt.Errorf("broker: unknown TLS mode %q (off, self-signed, files)", cfg.TLS)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("broker: data dir: %w", err)
	}
	st, err := store.Open(ctx, filepath.Join(cfg.DataDir, "porthole.db"))
	if errors.Is(err, store.ErrUsernameCase) {
		return nil, fmt.Errorf("broker: refusing to start: %w\n(DIR is %s)", err, cfg.DataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "broker"), store: st}
	s.metrics = metrics.New(metrics.Config{DB: st.DB(), AgentsOnline: func() int { return s.agents.Count() },
		Sessions: func() sessions.Counts { return s.sess.Counts() }})
	s.stream, err = auditstream.New(auditstream.Config{Syslog: cfg.AuditSyslog, Webhook: cfg.AuditWebhook, WebhookSecret: cfg.AuditWebhookSecret,
		Logger: cfg.Logger})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	sinks := []audit.Sink{audit.NewAnchor(AuditAnchorPath(cfg.DataDir)).WithLogger(cfg.Logger), notifySink{s}, s.metrics}
	if s.stream.Enabled() {
		sinks = append(sinks, s.stream)
	}
	if s.audit, err = openAudit(ctx, cfg, s.metrics.AuditChain(st), sinks); err != nil {
		st.Close()
		return nil, err
	}
	set := settings.New(st)
	s.auth = auth.New(st, auth.Config{IdleTimeout: cfg.SessionIdle, AbsoluteTimeout: cfg.SessionAbsolute, Clock: cfg.Clock,
		Hashing: auth.HashLimits{Concurrent: cfg.PasswordHashes, Wait: cfg.PasswordHashWait},
		Standing: func(ctx context.Context) (bool, error) {
			v, err := set.Effective(ctx, "", settings.AccessStanding)
			return v.Value != settings.StandingNone, err
		}})
	s.conns = conns.New()
	// TOTP secrets and device keys are sealed with a key kept outside the
	// database (PORTHOLE_SECRET_KEY, else data-dir/secret.key, created once).
	box, err := secretbox.Open(cfg.DataDir)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	s.keys = devicekey.New(devicekey.Config{Store: st, Box: box, Audit: s.audit, Agents: agentLink{&s.agents}, NewID: auth.NewID,
		Clock: cfg.Clock, Logger: cfg.Logger})
	if _, err := s.keys.SealPlaintext(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	s.failures = audit.NewCoalescer(s.audit, cfg.Clock, cfg.FailureWindow, cfg.Logger)
	s.live = live.NewHub()
	if err := s.firstRun(ctx); err != nil {
		st.Close()
		return nil, err
	}
	// Sessions left open by a crash cannot be resumed: their peer
	// connections died with the process. Record how they ended.
	if n, err := st.EndOpenSupportSessions(ctx, cfg.Clock.Now(), "broker restarted"); err != nil {
		st.Close()
		return nil, fmt.Errorf("broker: %w", err)
	} else if n > 0 {
		s.log.Warn("sessions ended by a broker restart", "count", n)
	}
	api, rtcCloser, err := rtcnet.NewAPI(rtcnet.Config{UDPPort: cfg.UDPPort, TCPPort: cfg.ICETCPPort, PublicIPs: cfg.PublicIPs,
		ListenIP: iceListenIP(cfg.Listen), Loopback: true}, cfg.Logger.With("component", "webrtc"))
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("broker: webrtc: %w", err)
	}
	s.rtc = rtcCloser
	if err := s.openRecordings(ctx, set); err != nil {
		rtcCloser.Close()
		st.Close()
		return nil, err
	}
	s.acc = access.New(access.Config{Store: st, Audit: s.audit, Settings: set, Live: s.live, NewID: auth.NewID, Clock: cfg.Clock,
		Logger: cfg.Logger, NewTicker: cfg.NewTicker})
	var hub *agents.Hub
	s.sess = sessions.New(sessions.Config{Agents: agentLink{&hub}, Store: st, Audit: s.audit, Settings: set, API: api,
		Clock: cfg.Clock, Logger: cfg.Logger, NewTicker: cfg.NewTicker, Recordings: s.recs,
		RecordingMaxBytes: cfg.RecordingMaxBytes, Grants: s.acc})
	s.events = agentevents.New(s.audit, agentLink{&hub}, cfg.Logger)
	s.reqs = requests.New(requests.Config{Store: st, Audit: s.audit, Settings: set, Agents: agentLink{&hub}, Sessions: s.sess,
		Live: s.live, NewID: auth.NewID, Clock: cfg.Clock, Logger: cfg.Logger, NewTicker: cfg.NewTicker})
	hub = agents.New(agents.Config{Devices: st, Audit: s.audit, Live: s.live, Clock: cfg.Clock,
		Logger: cfg.Logger.With("component", "agents"), Heartbeat: cfg.Heartbeat,
		OnMessage: s.agentMessage, OnOffline: s.sess.AgentOffline, Failures: s.failures,
		OnOnline: func(id string) {
			s.keys.Online(context.Background(), id)
			s.push.Device(context.Background(), id)
			s.elevation.PushPolicy(context.Background(), id)
			s.reqs.Resend(context.Background(), id)
		}})
	s.agents = hub
	s.push = settings.NewPusher(set, hub, cfg.Logger)
	s.bg = breakglass.New(breakglass.Config{Store: st, Audit: s.audit, Agents: agentLink{&hub}, Settings: set, Clock: cfg.Clock,
		Logger: cfg.Logger, NewID: auth.NewID})
	s.events.Register("breakglass", s.bg.Hook)
	s.settings = set
	s.elevation = elevation.New(elevation.Config{Store: st, Audit: s.audit, Settings: set, Agents: agentLink{&hub},
		Requests: s.reqs, Keys: s.keys, Clock: cfg.Clock, Logger: cfg.Logger})
	s.events.Register(elevation.Area, s.elevation.Hook)
	s.reqs.Register(requests.KindElevation, s.elevation)
	mgr, err := mfa.New(mfa.Config{Store: mfasql.New(st.DB()), Box: box, Logger: cfg.Logger})
	// Account and unknown-name lockouts survive a restart; known-address
	// slowdowns and address limits are a minute long (ADR 0009).
	limits := func(c mfa.LimiterConfig, scope string) *mfa.Limiter {
		c.Store, c.Scope = st, scope
		l := mfa.NewLimiter(c)
		if err == nil {
			err = l.Load(ctx, cfg.Clock.Now())
		}
		return l
	}
	accounts := limits(httpapi.AccountLimits, "account")
	unknown := limits(httpapi.UnknownNameLimits, "unknown")
	if err != nil {
		s.recs.Close()
		rtcCloser.Close()
		st.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	s.mfa = &httpapi.MFA{Manager: mgr, Accounts: accounts, Unknown: unknown,
		Known: mfa.NewLimiter(httpapi.KnownAddressLimits), Addrs: mfa.NewLimiter(httpapi.AddressLimits)}
	s.life = lifecycle.New(lifecycle.Config{Store: st, Principals: s.auth, Conns: s.conns, Sessions: s.sess, MFA: mgr, Audit: s.audit,
		Clock: cfg.Clock, Logger: cfg.Logger, HashPassword: s.auth.HashPassword})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.recs.Close()
		rtcCloser.Close()
		st.Close()
		return nil, fmt.Errorf("broker: listen: %w", err)
	}
	s.ln = ln
	if s.metricsLn, err = listenMetrics(cfg); err != nil {
		ln.Close()
		s.recs.Close()
		rtcCloser.Close()
		st.Close()
		return nil, err
	}
	url := cfg.PublicURL
	if url == "" {
		url = s.URL()
	}
	s.notify = notify.New(notify.Config{Settings: set, Audit: s.audit, Groups: st, Sender: &notify.SMTP{Password: cfg.SMTPPassword},
		PortalURL: url, Clock: cfg.Clock, Logger: cfg.Logger, Backoff: cfg.NotifyBackoff})
	s.publicURL = url
	s.sso, err = sso.New(sso.ServiceConfig{Providers: cfg.OIDC, RedirectURL: sso.CallbackURL(url), Clock: cfg.Clock, Logger: cfg.Logger})
	if err == nil {
		s.passkeys, err = passkey.New(passkey.Config{PublicURL: url, Store: st, Clock: cfg.Clock, Logger: cfg.Logger})
	}
	if err != nil {
		if s.metricsLn != nil {
			s.metricsLn.Close()
		}
		ln.Close()
		s.recs.Close()
		rtcCloser.Close()
		st.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	return s, nil
}

// openAudit opens the signed audit log (ADR 0010) and verifies it; an
// existing chain without a signed head (written before audit signing) is
// adopted when the signing key was created just now, or with AuditAdopt.
func openAudit(ctx context.Context, cfg Config, st audit.Chain, sinks []audit.Sink) (*audit.Log, error) {
	signer, created, err := audit.LoadSigner(cfg.DataDir, cfg.AuditKeyFile, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if err := signer.WritePublicKey(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	log := audit.New(st, cfg.Clock, sinks...).WithSigner(signer)
	n, err := log.Verify(ctx)
	if errors.Is(err, audit.ErrUnsigned) {
		switch {
		case created:
			n, err = log.Adopt(ctx, "first start with audit signing (a new signing key)")
		case cfg.AuditAdopt:
			n, err = log.Adopt(ctx, "adopted by the operator (--audit-adopt)")
		default:
			err = fmt.Errorf("%w: a log written before audit signing, or one whose signed head was removed; "+
				"if this is the first start with this signing key, start once with --audit-adopt", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("broker: refusing to start: %w (after %d good records)", err, n)
	}
	cfg.Logger.Info("audit log verified", "records", n, "signing_key", audit.Fingerprint(signer.Public()))
	return log, nil
}

// OpenAuditOffline opens the data dir's audit log for a tool that appends
// to it while the broker is stopped (admin create): signed with the
// broker's key and verified first, as at the broker's start.
func OpenAuditOffline(ctx context.Context, st *store.Store, dataDir, keyFile string) (*audit.Log, error) {
	cfg := Config{DataDir: dataDir, AuditKeyFile: keyFile, Logger: slog.New(slog.DiscardHandler)}
	return openAudit(ctx, cfg, st, []audit.Sink{audit.NewAnchor(AuditAnchorPath(dataDir))})
}

// notifySink hands audit records to the notifier, which is built after
// the audit log (it audits what it sends).
type notifySink struct{ s *Server }

func (n notifySink) Publish(rec store.AuditRecord) {
	if n.s.notify != nil {
		n.s.notify.Publish(rec)
	}
}

// agentMessage routes an authenticated agent's message to the feature that
// owns its type; session signaling is the rest.
func (s *Server) agentMessage(deviceID string, m wire.Message) {
	for _, h := range []func(string, wire.Message) bool{s.events.Handle, s.bg.HandleAgent, s.reqs.HandleAgent, s.keys.HandleAgent} {
		if h(deviceID, m) {
			return
		}
	}
	s.sess.HandleAgent(deviceID, m)
}

// openRecordings opens the recordings directory and digests, for the audit
// log, any recording a crash left unfinished.
func (s *Server) openRecordings(ctx context.Context, set *settings.Settings) error {
	var recs *recording.Store
	if c := s.cfg.RecordingsS3; c != nil {
		cfg := *c
		if cfg.SpoolDir == "" {
			cfg.SpoolDir = filepath.Join(s.cfg.DataDir, "recordings-spool")
		}
		if cfg.Logger == nil {
			cfg.Logger = s.cfg.Logger
		}
		b, err := s3.Open(ctx, cfg)
		if err != nil {
			return fmt.Errorf("broker: %w", err)
		}
		recs = recording.NewStore(b)
	} else {
		dir := s.cfg.RecordingsDir
		if dir == "" {
			dir = filepath.Join(s.cfg.DataDir, "recordings")
		}
		var err error
		if recs, err = recording.OpenStore(dir); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	}
	s.recs = recs
	s.archive = archive.New(archive.Config{Files: recs, Rows: s.store, Audit: s.audit, Settings: set, Clock: s.cfg.Clock,
		Logger: s.cfg.Logger, Interval: s.cfg.RetentionInterval})
	if err := s.archive.Recover(ctx); err != nil {
		s.log.Error("recover recordings", "err", err)
	}
	return nil
}

// agentLink lets the session manager reach the hub, which is built after it
// (the hub needs the manager's callbacks).
type agentLink struct{ h **agents.Hub }

func (a agentLink) Online(id string) bool                { return (*a.h).Online(id) }
func (a agentLink) Send(id string, m wire.Message) error { return (*a.h).Send(id, m) }

// iceListenIP binds ICE to the broker's listen IP when it is a specific
// address (127.0.0.1 in tests and the demo), and to every interface otherwise.
func iceListenIP(listen string) string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && ip.To4() != nil {
		return ip.String()
	}
	if host == "localhost" {
		return "127.0.0.1"
	}
	return ""
}

// AuditAnchorPath is where the newest audit record's hash is kept, outside
// the database, so deleting the newest rows is detected.
func AuditAnchorPath(dataDir string) string { return filepath.Join(dataDir, "audit-head") }

func defaultTLS(cfg Config) string {
	if cfg.TLSCert != "" {
		return TLSFiles
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err == nil {
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return TLSOff
		}
	}
	return TLSSelfSigned
}

// URL is where the portal is served.
func (s *Server) URL() string {
	scheme := "https"
	if s.cfg.TLS == TLSOff {
		scheme = "http"
	}
	return scheme + "://" + s.ln.Addr().String()
}

// Store exposes the store to in-process tools (admin commands, tests).
func (s *Server) Store() *store.Store { return s.store }

// firstRun creates the initial admin when there are no users and prints its
// password once.
func (s *Server) firstRun(ctx context.Context) error {
	n, err := s.store.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	pw, err := CreateUser(ctx, s.store, s.audit, "admin", auth.Admin, "")
	if err != nil {
		return fmt.Errorf("broker: first-run admin: %w", err)
	}
	fmt.Fprintf(s.cfg.Out, "\nFirst run: created portal user \"admin\" with password:\n\n    %s\n\nIt is shown once; log in and keep it safe.\n\n", pw)
	return nil
}

// CreateUser adds a portal user; a generated password is returned when pw is empty.
func CreateUser(ctx context.Context, st *store.Store, log *audit.Log, username string, role auth.Role, pw string) (string, error) {
	if pw == "" {
		pw = auth.NewPassword()
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return "", err
	}
	u := store.User{ID: auth.NewID(), Username: username, PasswordHash: hash, Role: string(role), CreatedAt: time.Now()}
	if _, err := log.Append(ctx, audit.Event{Actor: "system", Action: "user.created", Target: u.ID,
		Details: map[string]any{"username": username, "role": string(role)}}); err != nil {
		return "", err
	}
	if err := st.CreateUser(ctx, u); err != nil {
		return "", err
	}
	return pw, nil
}

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	defer s.store.Close()
	defer s.audit.Close() // the head anchor's last write, after the shutdown's own records
	defer s.rtc.Close()
	defer s.recs.Close()
	// Request emails in flight get a bounded time to finish after the API
	// has stopped (they are audited, so before the store closes).
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.notify.Close(ctx); err != nil {
			s.log.Warn("request emails aborted at shutdown", "err", err)
		}
	}()
	// Websockets (agent links, viewers) live until sessions have ended, so
	// agents and viewers hear "broker shutting down" rather than a dropped link.
	linkCtx, cancelLinks := context.WithCancel(context.Background())
	defer cancelLinks()
	api := httpapi.New(httpapi.Config{Store: s.store, Auth: s.auth, Audit: s.audit, Agents: s.agents, Live: s.live,
		Sessions: s.sess, Settings: s.settings, MFA: s.mfa, Recordings: s.recs, Archive: s.archive, Elevation: s.elevation,
		BreakGlass: s.bg, Requests: s.reqs, SettingsPush: s.push, Access: s.acc, Conns: s.conns, Lifecycle: s.life,
		Failures: s.failures, TrustedProxies: s.cfg.TrustedProxies, DeviceKeys: s.keys, SSO: s.sso, Passkeys: s.passkeys,
		Provision: &sso.Provisioner{Store: s.store, Roles: s.life, Audit: s.audit, Clock: s.cfg.Clock},
		Portal:    webclient.Handler(), Clock: s.cfg.Clock, Logger: s.cfg.Logger, SecureCookies: s.cfg.TLS != TLSOff, Context: linkCtx})
	srv := &http.Server{Handler: s.withReadiness(api), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn)}
	ln := s.ln
	if s.cfg.TLS != TLSOff {
		cert, err := s.certificate()
		if err != nil {
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	s.log.Info("broker listening", "url", s.URL(), "tls", s.cfg.TLS)
	g, gctx := errgroup.WithContext(ctx)
	// The audit stream outlives the API so the shutdown's own events go out.
	streamCtx, stopStream := context.WithCancel(context.Background())
	streamDone := make(chan error, 1)
	go func() { streamDone <- s.stream.Run(streamCtx) }()
	defer func() { stopStream(); <-streamDone }()
	g.Go(func() error { return s.reqs.Run(gctx) })
	g.Go(func() error { return s.acc.Run(gctx) })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("broker: serve: %w", err)
		}
		return nil
	})
	g.Go(func() error { return s.archive.Run(gctx) })
	g.Go(func() error { return s.failures.Run(gctx) })
	if s.metricsLn != nil {
		g.Go(func() error { return s.serveMetrics(gctx) })
	}
	g.Go(func() error {
		<-gctx.Done()
		s.sess.Close()
		cancelLinks()
		// A fresh context: the cancelled one would abort the shutdown at once.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		s.log.Info("broker stopped")
		return err
	})
	return g.Wait()
}

// certificate loads the configured pair or makes (once) a self-signed one.
func (s *Server) certificate() (tls.Certificate, error) {
	if s.cfg.TLS == TLSFiles {
		return tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
	}
	certPath := filepath.Join(s.cfg.DataDir, "tls-cert.pem")
	keyPath := filepath.Join(s.cfg.DataDir, "tls-key.pem")
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "Porthole broker " + host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(2, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", host}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	if h, _, err := net.SplitHostPort(s.cfg.Listen); err == nil {
		if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	s.log.Info("generated self-signed TLS certificate", "path", certPath)
	return tls.LoadX509KeyPair(certPath, keyPath)
}
