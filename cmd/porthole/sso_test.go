package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"porthole/broker"
	"porthole/broker/notify/smtptest"
	"porthole/broker/sso"
	"porthole/internal/oidctest"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestLoginSSO: "porthole login --sso" against a broker that trusts a real
// OP: the user signs in in a (scripted) browser, the CLI's loopback
// listener gets the ticket, and the token it trades it for works.
func TestLoginSSO(t *testing.T) {
	port := smtptest.FreePort(t)
	public := "http://127.0.0.1:" + strconv.Itoa(port)
	op := oidctest.Start(t, oidctest.Client{ID: "porthole", Secret: "sec", RedirectURIs: []string{sso.CallbackURL(public)}})
	op.AddUser(oidctest.User{Subject: "s-ivy", Username: "ivy", Password: "pi", Groups: []string{"helpdesk"}})
	t.Setenv("CLI_TEST_OIDC_SECRET", "sec")
	var first bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := broker.New(ctx, broker.Config{Listen: "127.0.0.1:" + strconv.Itoa(port), DataDir: t.TempDir(), Out: &first,
		OIDC: []sso.ProviderConfig{{ID: "test", Name: "Test", Issuer: op.Issuer, ClientID: "porthole", ClientSecretEnv: "CLI_TEST_OIDC_SECRET",
			UsernameClaim: "preferred_username", GroupsClaim: "groups", Scopes: []string{"openid"},
			Groups: []sso.GroupMapping{{Group: "helpdesk", Role: "technician"}}}}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	t.Setenv("PORTHOLE_CONFIG", t.TempDir()+"/cli.json")

	out := &syncBuf{}
	result := make(chan error, 1)
	go func() {
		result <- run(context.Background(), []string{"login", "--broker", public, "--sso", "test", "--sso-timeout", "60s"}, nil, out)
	}()
	urlLine := regexp.MustCompile(`(http://\S+/api/sso/test/login\?cli=\S+)`)
	var loginURL string
	deadline := time.Now().Add(30 * time.Second)
	for loginURL == "" {
		if m := urlLine.FindStringSubmatch(out.String()); m != nil {
			loginURL = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no sign-in address printed: %q", out.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The browser: the broker's sign-in, the OP's login form, the callback,
	// and on to the CLI's listener.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.Get(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	q, err := op.Authorize(context.Background(), res.Header.Get("Location"), "ivy", "pi")
	if err != nil {
		t.Fatal(err)
	}
	res, err = browser.Get(public + "/api/sso/callback?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loopback := res.Header.Get("Location")
	if !strings.HasPrefix(loopback, "http://127.0.0.1:") || !strings.Contains(loopback, "/callback?ticket=") {
		t.Fatalf("callback sent the browser to %q", loopback)
	}
	if res, err = browser.Get(loopback); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("login --sso: %v (%s)", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("login --sso did not finish")
	}
	if !strings.Contains(out.String(), "as ivy (technician) via test") {
		t.Fatalf("output: %s", out.String())
	}
	var devs bytes.Buffer
	if err := run(context.Background(), []string{"devices"}, nil, &devs); err != nil {
		t.Fatalf("devices with the SSO token: %v", err)
	}
	// The same ticket is worthless a second time (and without the verifier).
	var got struct{ Error string }
	ticket := loopback[strings.Index(loopback, "ticket=")+len("ticket="):]
	if err := call(context.Background(), public, "", "POST", "/api/cli/sso/token",
		map[string]string{"id": "x", "ticket": ticket, "verifier": strings.Repeat("v", 43)}, &got); err == nil {
		t.Fatal("a used ticket bought a token")
	}
}
