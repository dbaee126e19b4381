package notify_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/broker/audit"
	"porthole/broker/notify"
	"porthole/broker/notify/smtptest"
	"porthole/broker/settings"
	"porthole/broker/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSMTPSend(t *testing.T) {
	srv := smtptest.Start(t)
	msg := notify.Message{From: "porthole@example.com", To: []string{"ops@example.com", "help@example.com"},
		Subject: "[Porthole] ⚡ Emergency access request", Body: "Reason: outage\n.\nLink: http://x/#/access/r1\n",
		Date: time.Now(), ID: notify.NewMessageID("porthole@example.com")}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// auto on 127.0.0.1 means if_offered: this relay offers no STARTTLS.
	if err := (&notify.SMTP{}).Send(ctx, notify.Server{Host: srv.Host, Port: srv.Port}, msg); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(t, 1, 5*time.Second)[0]
	subj, _ := new(mime.WordDecoder).DecodeHeader(got.Header.Get("Subject"))
	if subj != msg.Subject {
		t.Errorf("Subject %q", subj)
	}
	if got.Header.Get("Message-Id") != "<"+msg.ID+">" || got.Header.Get("From") != "<porthole@example.com>" ||
		got.Header.Get("X-Rcptto") != "ops@example.com, help@example.com" || got.Header.Get("X-Mailfrom") != "porthole@example.com" {
		t.Errorf("headers %v", got.Header)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(got.Body))
	if want := "Reason: outage\r\n.\r\nLink: http://x/#/access/r1\r\n"; strings.ReplaceAll(string(body), "\r\n", "\n") != strings.ReplaceAll(want, "\r\n", "\n") {
		t.Errorf("body %q, want %q", body, want)
	}
}

func TestSMTPStartTLSRequired(t *testing.T) {
	srv := smtptest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := (&notify.SMTP{}).Send(ctx, notify.Server{Host: srv.Host, Port: srv.Port, StartTLS: notify.StartTLSRequired},
		notify.Message{From: "a@example.com", To: []string{"b@example.com"}, Date: time.Now(), ID: "x@example.com"})
	if !errors.Is(err, notify.ErrNoStartTLS) {
		t.Fatalf("err = %v, want ErrNoStartTLS", err)
	}
	if n := len(srv.Messages(t)); n != 0 {
		t.Fatalf("%d messages delivered in the clear", n)
	}
}

func TestSMTPStartTLS(t *testing.T) {
	srv, pool := smtptest.StartTLS(t)
	msg := notify.Message{From: "a@example.com", To: []string{"b@example.com"}, Subject: "over TLS", Body: "hi", Date: time.Now(),
		ID: "y@example.com"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Without upgrading the server refuses the mail (it requires STARTTLS).
	if err := (&notify.SMTP{}).Send(ctx, notify.Server{Host: srv.Host, Port: srv.Port, StartTLS: notify.StartTLSOff}, msg); err == nil {
		t.Fatal("plain MAIL accepted by a server that requires STARTTLS")
	}
	// An untrusted certificate is refused.
	if err := (&notify.SMTP{}).Send(ctx, notify.Server{Host: srv.Host, Port: srv.Port, StartTLS: notify.StartTLSRequired}, msg); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	if err := (&notify.SMTP{RootCAs: pool}).Send(ctx, notify.Server{Host: srv.Host, Port: srv.Port, StartTLS: notify.StartTLSRequired}, msg); err != nil {
		t.Fatal(err)
	}
	if got := srv.Wait(t, 1, 5*time.Second); len(got) != 1 || got[0].Header.Get("Message-Id") != "<y@example.com>" {
		t.Fatalf("messages %v", got)
	}
}

// events records audit events (the notifier's only output besides mail).
type events struct {
	mu  sync.Mutex
	all []audit.Event
}

func (e *events) Append(_ context.Context, ev audit.Event) (store.AuditRecord, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
	return store.AuditRecord{}, nil
}

func (e *events) wait(t *testing.T, action string) audit.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		for _, ev := range e.all {
			if ev.Action == action {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s event", action)
	return audit.Event{}
}

// newSettings is the real settings over a real store with the notify keys set.
func newSettings(t *testing.T, kv map[string]string) *settings.Settings {
	t.Helper()
	set, _ := newStore(t, kv)
	return set
}

// newStore is newSettings and its store.
func newStore(t *testing.T, kv map[string]string) (*settings.Settings, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	set := settings.New(st)
	for k, v := range kv {
		if _, err := set.Set(context.Background(), settings.Global, k, v); err != nil {
			t.Fatal(err)
		}
	}
	return set, st
}

func supportCreated(id string) store.AuditRecord {
	return store.AuditRecord{Action: "request.created", Actor: "device:d1", Target: id, Time: time.Now(),
		Details: `{"kind":"support","device_id":"d1","hostname":"pc-7","name":"Ann","email":"ann@example.com","phone":"","reason":"printer jam"}`}
}

func TestNotifierSends(t *testing.T) {
	srv := smtptest.Start(t)
	set := newSettings(t, map[string]string{settings.NotifyEmailTo: "ops@example.com, help@example.com",
		settings.NotifySMTPHost: srv.Host, settings.NotifySMTPPort: itoa(srv.Port), settings.NotifySMTPFrom: "porthole@example.com"})
	ev := &events{}
	n := notify.New(notify.Config{Settings: set, Audit: ev, Sender: &notify.SMTP{Password: "hunter2"}, PortalURL: "http://127.0.0.1:8443/"})
	n.Publish(store.AuditRecord{Action: "session.started", Target: "s1", Details: "{}"}) // not a request: ignored
	n.Publish(supportCreated("r1"))
	sent := ev.wait(t, "notify.sent")
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sent.Target != "r1" || sent.Details["recipients"] != 2 || sent.Details["subject"] != "[Porthole] Support request from pc-7" {
		t.Errorf("notify.sent %+v", sent)
	}
	msgs := srv.Messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msgs[0].Body))
	for _, w := range []string{"pc-7", "printer jam", "Ann", "http://127.0.0.1:8443/#/requests"} {
		if !strings.Contains(string(body), w) {
			t.Errorf("body lacks %q:\n%s", w, body)
		}
	}
}

func TestNotifierOff(t *testing.T) {
	ev := &events{}
	n := notify.New(notify.Config{Settings: newSettings(t, nil), Audit: ev, Sender: &notify.SMTP{}})
	n.Publish(supportCreated("r1"))
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(ev.all) != 0 {
		t.Fatalf("events with email off: %+v", ev.all)
	}
}

func TestNotifierRefusedRetriesThenFails(t *testing.T) {
	port := smtptest.FreePort(t)
	set := newSettings(t, map[string]string{settings.NotifyEmailTo: "ops@example.com", settings.NotifySMTPHost: "127.0.0.1",
		settings.NotifySMTPPort: itoa(port), settings.NotifySMTPUsername: "relay"})
	ev := &events{}
	n := notify.New(notify.Config{Settings: set, Audit: ev, Sender: &notify.SMTP{Password: "hunter2"}, Attempts: 3,
		Backoff: 10 * time.Millisecond})
	start := time.Now()
	n.Publish(supportCreated("r1"))
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("Publish blocked %s", d)
	}
	failed := ev.wait(t, "notify.failed")
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	msg, _ := failed.Details["error"].(string)
	if failed.Details["attempts"] != 3 || !strings.Contains(msg, "connection refused") || strings.Contains(msg, "hunter2") {
		t.Errorf("notify.failed %+v", failed.Details)
	}
}

func TestNotifierNoHostFailsAtOnce(t *testing.T) {
	ev := &events{}
	n := notify.New(notify.Config{Settings: newSettings(t, map[string]string{settings.NotifyEmailTo: "ops@example.com"}),
		Audit: ev, Sender: &notify.SMTP{}})
	n.Publish(supportCreated("r1"))
	failed := ev.wait(t, "notify.failed")
	_ = n.Close(context.Background())
	if failed.Details["attempts"] != 1 || !strings.Contains(failed.Details["error"].(string), "notify.smtp_host is not set") {
		t.Errorf("notify.failed %+v", failed.Details)
	}
}

// TestNotifierCloseAbortsHungServer: a server that accepts and never
// greets holds a send; Close waits its bound, then aborts and the email is
// audited as failed.
func TestNotifierCloseAbortsHungServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	set := newSettings(t, map[string]string{settings.NotifyEmailTo: "ops@example.com", settings.NotifySMTPHost: "127.0.0.1",
		settings.NotifySMTPPort: itoa(ln.Addr().(*net.TCPAddr).Port)})
	ev := &events{}
	n := notify.New(notify.Config{Settings: set, Audit: ev, Sender: &notify.SMTP{}, Timeout: time.Minute})
	n.Publish(supportCreated("r1"))
	c := <-accepted
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := n.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %s", d)
	}
	failed := ev.wait(t, "notify.failed")
	if !strings.Contains(failed.Details["error"].(string), "canceled") {
		t.Errorf("notify.failed %+v", failed.Details)
	}
	n.Publish(supportCreated("r2")) // after Close: not sent, no goroutine
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestNotifierEmergencyAccess: an emergency access request is mailed with
// a Q-encoded ⚡ subject naming the group, and links to its page.
func TestNotifierEmergencyAccess(t *testing.T) {
	srv := smtptest.Start(t)
	set, st := newStore(t, map[string]string{settings.NotifyEmailTo: "ops@example.com", settings.NotifySMTPHost: "localhost",
		settings.NotifySMTPPort: itoa(srv.Port)})
	if err := st.CreateGroup(context.Background(), store.Group{ID: "g1", Name: "Servers"}); err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	n := notify.New(notify.Config{Settings: set, Audit: ev, Groups: st, Sender: &notify.SMTP{}, PortalURL: "https://porthole.example",
		Hostname: "broker1.example"})
	n.Publish(store.AuditRecord{Action: "access.requested", Actor: "user:bob", Target: "r9", Time: time.Now(),
		Details: `{"duration":"1h0m0s","emergency":true,"entitlement":"break_glass","group_id":"g1","justification":"db down"}`})
	ev.wait(t, "notify.sent")
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := srv.Wait(t, 1, 5*time.Second)[0]
	raw := m.Header.Get("Subject")
	subj, _ := new(mime.WordDecoder).DecodeHeader(raw)
	if !strings.HasPrefix(raw, "=?utf-8?q?") || subj != "[Porthole] ⚡ Emergency access request: bob wants break_glass on Servers" {
		t.Errorf("Subject %q = %q", raw, subj)
	}
	if from := m.Header.Get("From"); from != "<porthole@broker1.example>" {
		t.Errorf("From %q: want the default sender", from)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
	for _, w := range []string{"EMERGENCY", "db down", "https://porthole.example/#/access/r9", "Servers"} {
		if !strings.Contains(string(body), w) {
			t.Errorf("body lacks %q:\n%s", w, body)
		}
	}
}

// gate is a sender that holds every send until released and counts how
// many are open at once.
type gate struct {
	mu         sync.Mutex
	open, most int
	release    chan struct{}
}

func (g *gate) Send(ctx context.Context, _ notify.Server, _ notify.Message) error {
	g.mu.Lock()
	g.open++
	g.most = max(g.most, g.open)
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.open--; g.mu.Unlock() }()
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) counts() (open, most int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open, g.most
}

// TestNotifierBoundsConcurrentSends: a burst of requests opens at most
// Concurrent SMTP sessions; the rest wait their turn and all are sent.
func TestNotifierBoundsConcurrentSends(t *testing.T) {
	set := newSettings(t, map[string]string{settings.NotifyEmailTo: "ops@example.com", settings.NotifySMTPHost: "127.0.0.1"})
	ev := &events{}
	g := &gate{release: make(chan struct{})}
	n := notify.New(notify.Config{Settings: set, Audit: ev, Sender: g, Concurrent: 2})
	const burst = 10
	for i := range burst {
		n.Publish(supportCreated("r" + itoa(i)))
	}
	deadline := time.Now().Add(5 * time.Second)
	for open, _ := g.counts(); open < 2; open, _ = g.counts() {
		if time.Now().After(deadline) {
			t.Fatalf("%d sends open, want 2", open)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for a third to open, were it allowed
	close(g.release)
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, most := g.counts(); most != 2 {
		t.Fatalf("%d sends open at once, want 2", most)
	}
	sent := 0
	for _, e := range ev.all {
		if e.Action == "notify.sent" {
			sent++
		}
	}
	if sent != burst {
		t.Fatalf("%d emails sent, want %d", sent, burst)
	}
}
