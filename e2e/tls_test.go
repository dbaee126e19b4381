package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porthole/agent"
	"porthole/broker"
)

// TestSelfSignedTLS: the broker makes a certificate once into its data dir,
// serves HTTPS with Secure cookies, and an agent that trusts that
// certificate (--ca-cert) enrolls and connects over wss.
func TestSelfSignedTLS(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := broker.New(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: dir, TLS: broker.TLSSelfSigned, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if !strings.HasPrefix(srv.URL(), "https://") {
		t.Fatalf("URL %s", srv.URL())
	}
	certPath := filepath.Join(dir, "tls-cert.pem")
	waitFor(t, "certificate file", 5*time.Second, func() bool { _, err := os.Stat(certPath); return err == nil })
	pem, _ := os.ReadFile(certPath)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}

	// Without trusting it, a client refuses the certificate.
	if _, err := http.Get(srv.URL() + "/healthz"); err == nil {
		t.Fatal("an untrusted self-signed certificate was accepted")
	}
	res, err := client.Get(srv.URL() + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz over TLS: %v %v", res, err)
	}
	res.Body.Close()

	pw := pwLine.FindStringSubmatch(out.String())[1]
	res, err = client.Post(srv.URL()+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"`+pw+`"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %v %v", res, err)
	}
	res.Body.Close()
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "porthole_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie under TLS: %+v", cookie)
	}

	// An agent enrolls with the certificate and connects over wss.
	req, _ := http.NewRequest("POST", srv.URL()+"/api/enroll-tokens", strings.NewReader(`{"max_uses":1,"expires_in_seconds":3600}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(cookie)
	res, err = client.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("token: %v %v", res, err)
	}
	var tok struct{ Token string }
	decodeBody(t, res, &tok)
	cfg := agent.Config{StateDir: filepath.Join(t.TempDir(), "a"), Displays: oneDisplay}
	if _, err := agent.Enroll(context.Background(), cfg, srv.URL(), tok.Token, certPath); err != nil {
		t.Fatalf("enroll over TLS: %v", err)
	}
	a := startAgent(t, cfg)
	select {
	case <-a.Connected():
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not connect over wss")
	}
	// A second start reuses the same certificate.
	before, _ := os.ReadFile(certPath)
	if !bytes.Equal(before, pem) {
		t.Fatal("certificate regenerated")
	}
}
