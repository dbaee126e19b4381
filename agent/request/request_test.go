package request

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// brokerFake plays the broker: it records requests and answers through Result.
type brokerFake struct {
	mu   sync.Mutex
	reqs []*wire.SupportRequest
	got  chan *wire.SupportRequest
}

func (b *brokerFake) send(m wire.Message) error {
	r, ok := m.(*wire.SupportRequest)
	if !ok {
		return errors.New("unexpected message")
	}
	b.mu.Lock()
	b.reqs = append(b.reqs, r)
	b.mu.Unlock()
	b.got <- r
	return nil
}

type formFake struct{ vals []string }

func (f formFake) Form(context.Context, string, []string, time.Duration) ([]string, error) {
	return f.vals, nil
}

type notifyFake struct {
	mu    sync.Mutex
	texts []string
}

func (n *notifyFake) Info(_ context.Context, text string, _ time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.texts = append(n.texts, text)
	return nil
}

func (n *notifyFake) shown() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.texts...)
}

func start(t *testing.T, cfg Config) *Service {
	t.Helper()
	s := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	// Wait for the socket: localsock.Listen makes it 0666 once it
	// listens (the file appears at bind, a moment before connects work).
	deadline := time.Now().Add(5 * time.Second)
	for {
		if fi, err := os.Stat(cfg.Socket); err == nil && fi.Mode().Perm() == 0o666 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal("socket not created")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAskOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		local  Local
		form   []string
		final  wire.SupportRequestResult
		notify string // "" = no desktop message
	}{
		{"denied with details", Local{Name: "Ann", Email: "ann@example.com", Reason: "VPN"}, nil,
			wire.SupportRequestResult{Status: wire.RequestDenied, Message: "call the desk", By: "tech"}, "Your support request was denied by tech: call the desk."},
		{"approved from the form", Local{}, []string{"Bob", "", "+1 555 0100", "printer"},
			wire.SupportRequestResult{Status: wire.RequestApproved, By: "tech"}, ""},
		{"expired", Local{Name: "Ann", Phone: "123", Reason: "x"}, nil,
			wire.SupportRequestResult{Status: wire.RequestExpired, Message: "nobody came"}, "nobody came"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &brokerFake{got: make(chan *wire.SupportRequest, 1)}
			n := &notifyFake{}
			sock := filepath.Join(t.TempDir(), "r.sock")
			s := start(t, Config{Socket: sock, Send: b.send, Form: formFake{tc.form}, Notify: n})
			go func() {
				r := <-b.got
				s.Result(context.Background(), &wire.SupportRequestResult{RequestID: r.RequestID, Status: wire.RequestQueued, Message: "queued"})
				f := tc.final
				f.RequestID = r.RequestID
				s.Result(context.Background(), &f)
			}()
			var replies []Reply
			final, err := Ask(context.Background(), sock, tc.local, func(r Reply) { replies = append(replies, r) })
			if err != nil {
				t.Fatal(err)
			}
			if len(replies) != 2 || replies[0].Status != wire.RequestQueued || final.Status != tc.final.Status {
				t.Fatalf("replies = %+v, final %+v", replies, final)
			}
			if tc.form != nil && (b.reqs[0].Name != "Bob" || b.reqs[0].Phone != "+1 555 0100" || b.reqs[0].Reason != "printer") {
				t.Fatalf("request from the form = %+v", b.reqs[0])
			}
			s.wg.Wait() // the desktop message goroutine
			shown := n.shown()
			if tc.notify == "" && len(shown) != 0 || tc.notify != "" && (len(shown) != 1 || shown[0] != tc.notify) {
				t.Fatalf("desktop messages = %q, want %q", shown, tc.notify)
			}
		})
	}
}

func TestAskErrors(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "r.sock")
	start(t, Config{Socket: sock, Send: func(wire.Message) error { return errors.New("offline") }})
	final, err := Ask(context.Background(), sock, Local{}, func(Reply) {})
	if err != nil || final.Status != "error" || !strings.Contains(final.Message, "no desktop") {
		t.Fatalf("no form: %+v, %v", final, err)
	}
	final, err = Ask(context.Background(), sock, Local{Name: "Ann", Email: "a@b.c", Reason: "x"}, func(Reply) {})
	if err != nil || final.Status != "error" || !strings.Contains(final.Message, "not connected") {
		t.Fatalf("offline: %+v, %v", final, err)
	}
	if _, err := Ask(context.Background(), filepath.Join(t.TempDir(), "none.sock"), Local{}, func(Reply) {}); err == nil {
		t.Fatal("no agent: want an error")
	}
}

func TestLauncherFollowsSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "applications")
	s := New(Config{DesktopDir: dir, Command: []string{"/opt/porthole agent", "request-support", "--socket", `/run/p"x.sock`}})
	path := filepath.Join(dir, LauncherName)
	if err := s.ApplySettings(map[string]string{"remote_support.desktop_icon": "true", "remote_support.allow": "true"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Exec=\"/opt/porthole agent\" \"request-support\" \"--socket\" \"/run/p\\\\\"x.sock\"\n"; !strings.Contains(string(b), want) {
		t.Fatalf("launcher:\n%s\nwant line %q", b, want)
	}
	for _, vals := range []map[string]string{
		{"remote_support.desktop_icon": "false", "remote_support.allow": "true"},
		{"remote_support.desktop_icon": "true", "remote_support.allow": "false"},
	} {
		if err := s.ApplySettings(map[string]string{"remote_support.desktop_icon": "true"}); err != nil {
			t.Fatal(err)
		}
		if err := s.ApplySettings(vals); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v: launcher still there (%v)", vals, err)
		}
	}
}

// FuzzDecodeLocal fuzzes what a local caller can send the agent.
func FuzzDecodeLocal(f *testing.F) {
	f.Add([]byte(`{"name":"Ann","email":"ann@example.com","phone":"","reason":"VPN"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"name":"Ann","email":"","phone":"","reason":"x"}`))
	f.Add([]byte(`{"name":"A\u0000","email":"a@b.c","phone":"","reason":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := DecodeLocal(data)
		if err != nil {
			return
		}
		if !l.empty() {
			if err := l.wire("r1").Validate(); err != nil {
				t.Fatalf("accepted an invalid request: %v", err)
			}
		}
	})
}
