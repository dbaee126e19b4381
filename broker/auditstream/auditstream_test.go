package auditstream

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/broker/audit"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newLog returns an audit log over a fresh store with s as its sink.
func newLog(t *testing.T, s *Streamer) *audit.Log {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return audit.New(st, clocktest.New(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)), s)
}

func run(t *testing.T, s *Streamer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func appendN(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	for i := range n {
		if _, err := l.Append(context.Background(), audit.Event{Actor: "user:admin", Action: "session.ended", Target: "s" + strconv.Itoa(i),
			SourceIP: "127.0.0.1", Details: map[string]any{"reason": `expired "x"] \`}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSyslogTCPAndUDP(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			msgs := make(chan string, 16)
			var addr string
			if network == "tcp" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				addr = ln.Addr().String()
				go func() {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					defer c.Close()
					r := bufio.NewReader(c)
					for {
						lenStr, err := r.ReadString(' ')
						if err != nil {
							return
						}
						n, err := strconv.Atoi(strings.TrimSpace(lenStr))
						if err != nil {
							msgs <- "bad frame: " + lenStr
							return
						}
						b := make([]byte, n)
						if _, err := io.ReadFull(r, b); err != nil {
							return
						}
						msgs <- string(b)
					}
				}()
			} else {
				pc, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { pc.Close() })
				addr = pc.LocalAddr().String()
				go func() {
					b := make([]byte, 65536)
					for {
						n, _, err := pc.ReadFrom(b)
						if err != nil {
							return
						}
						msgs <- string(b[:n])
					}
				}()
			}
			s, err := New(Config{Syslog: network + "://" + addr, Hostname: "broker1"})
			if err != nil {
				t.Fatal(err)
			}
			run(t, s)
			l := newLog(t, s)
			appendN(t, l, 3)
			var v audit.Verifier
			for i := range 3 {
				var m string
				select {
				case m = <-msgs:
				case <-time.After(10 * time.Second):
					t.Fatalf("syslog message %d never arrived", i+1)
				}
				wantHead := "<109>1 2026-01-01T10:00:00.000Z broker1 porthole-broker - session.ended [porthole@32473 seq=\"" + strconv.Itoa(i+1) + "\" actor=\"user:admin\""
				if !strings.HasPrefix(m, wantHead) {
					t.Fatalf("message %d:\n%s\nwant prefix\n%s", i+1, m, wantHead)
				}
				// The message body is the full record: the receiver can re-verify the chain.
				_, body, ok := strings.Cut(m, "\xEF\xBB\xBF")
				if !ok {
					t.Fatalf("no BOM before the JSON body: %q", m)
				}
				var r audit.Record
				if err := json.Unmarshal([]byte(body), &r); err != nil {
					t.Fatal(err)
				}
				if err := v.Add(r.Stored()); err != nil {
					t.Fatalf("forwarded record does not verify: %v", err)
				}
			}
		})
	}
}

func TestWebhookRetriesAndSigns(t *testing.T) {
	secret := []byte("s3cret")
	var mu sync.Mutex
	var calls int
	got := make(chan audit.Record, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if r.Header.Get(SignatureHeader) != Sign(secret, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if n <= 2 { // the receiver is down at first
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var rec audit.Record
		if err := json.Unmarshal(body, &rec); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- rec
	}))
	t.Cleanup(srv.Close)
	s, err := New(Config{Webhook: srv.URL, WebhookSecret: secret, Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	l := newLog(t, s)
	appendN(t, l, 2)
	for i := range 2 {
		select {
		case r := <-got:
			if r.Seq != int64(i+1) || r.Action != "session.ended" {
				t.Fatalf("record %d: %+v", i+1, r)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("webhook never received record %d", i+1)
		}
	}
	// The counter moves just after the receiver answered.
	for deadline := time.Now().Add(5 * time.Second); s.Stats().Sent != 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.Sent != 2 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 4 {
		t.Fatalf("webhook called %d times, want 4 (two failures then two deliveries)", calls)
	}
}

// TestPublishNeverBlocks: with the destination unreachable and the queue
// full, appending to the audit log still succeeds at once and drops are counted.
func TestPublishNeverBlocks(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	t.Cleanup(func() { close(hang); srv.Close() })
	s, err := New(Config{Webhook: srv.URL, QueueSize: 2, MaxAttempts: 1, Client: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	l := newLog(t, s)
	start := time.Now()
	appendN(t, l, 20)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("appending took %v with a hung webhook", d)
	}
	if st := s.Stats(); st.Dropped < 17 {
		t.Fatalf("stats %+v: want at least 17 dropped (queue 2, one in flight)", st)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{Syslog: "127.0.0.1:514"}, {Syslog: "tcp://127.0.0.1"}, {Syslog: "http://x:1"}, {Webhook: "ftp://x/"}, {Webhook: "/relative"}} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", c, err)
		}
	}
	s, err := New(Config{})
	if err != nil || s.Enabled() {
		t.Fatalf("empty config: %v enabled=%v", err, s.Enabled())
	}
}
