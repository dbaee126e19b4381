package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"porthole/broker/metrics"
)

// readyTimeout bounds the database check behind /readyz.
const readyTimeout = 2 * time.Second

// ErrMetricsToken refuses a metrics listener reachable from other machines
// without a token: the figures (who is online, how busy) are not public.
var ErrMetricsToken = errors.New("broker: --metrics-listen on a non-loopback address needs a token (--metrics-token-file or PORTHOLE_METRICS_TOKEN)")

// listenMetrics binds the metrics listener, if one is configured.
func listenMetrics(cfg Config) (net.Listener, error) {
	if cfg.MetricsListen == "" {
		return nil, nil
	}
	if cfg.MetricsToken == "" && !loopback(cfg.MetricsListen) {
		return nil, ErrMetricsToken
	}
	ln, err := net.Listen("tcp", cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("broker: metrics listen: %w", err)
	}
	return ln, nil
}

// loopback reports whether addr's host is a loopback address or localhost.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MetricsURL is where /metrics is served, or "" when it is off.
func (s *Server) MetricsURL() string {
	if s.metricsLn == nil {
		return ""
	}
	return "http://" + s.metricsLn.Addr().String()
}

// withReadiness adds /readyz to the portal's listener, for load balancers.
func (s *Server) withReadiness(api http.Handler) http.Handler {
	m := http.NewServeMux()
	m.Handle("GET /readyz", metrics.Ready(s.store.DB(), readyTimeout))
	m.Handle("/", api)
	return m
}

// serveMetrics serves /metrics, /readyz and /healthz on the metrics
// listener until ctx ends.
func (s *Server) serveMetrics(ctx context.Context) error {
	m := http.NewServeMux()
	m.Handle("GET /metrics", s.metrics.Handler(s.cfg.MetricsToken))
	m.Handle("GET /readyz", metrics.Ready(s.store.DB(), readyTimeout))
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn)}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	defer stop()
	s.log.Info("metrics listening", "url", s.MetricsURL())
	if err := srv.Serve(s.metricsLn); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("broker: metrics: %w", err)
	}
	return nil
}
