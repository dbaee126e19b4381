package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// ssoLogin is "porthole login --sso PROVIDER": the user signs in at the
// identity provider in a browser, through the broker (whose callback is
// the one redirect URI registered at the IdP); the broker then sends the
// browser to this command's loopback listener with a one-time ticket,
// which only this command can trade for a token: the trade needs the
// verifier whose hash started the sign-in.
func ssoLogin(ctx context.Context, broker, provider string, wait time.Duration, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("loopback listener: %w", err)
	}
	defer ln.Close()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	verifier := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	host, _ := os.Hostname()
	var start struct {
		ID        string `json:"id"`
		LoginPath string `json:"login_path"`
	}
	req := map[string]any{"provider": provider, "port": ln.Addr().(*net.TCPAddr).Port,
		"challenge": base64.RawURLEncoding.EncodeToString(sum[:]), "token_name": "cli@" + host}
	if err := call(ctx, broker, "", "POST", "/api/cli/sso/start", req, &start); err != nil {
		return err
	}
	fmt.Fprintf(out, "Open this address in your browser to sign in:\n\n  %s%s\n\n", strings.TrimRight(broker, "/"), start.LoginPath)
	tickets := make(chan string, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := r.URL.Query().Get("ticket")
		if r.URL.Path != "/callback" || t == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Signed in. You can close this window and go back to the terminal.")
		select {
		case tickets <- t:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	var ticket string
	select {
	case ticket = <-tickets:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
		return errors.New("no sign-in within " + wait.String() + ": run porthole login --sso again")
	}
	var res struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
		Username  string    `json:"username"`
		Role      string    `json:"role"`
	}
	if err := call(ctx, broker, "", "POST", "/api/cli/sso/token", map[string]string{"id": start.ID, "ticket": ticket, "verifier": verifier}, &res); err != nil {
		return err
	}
	if res.Token == "" {
		return errors.New("unexpected broker answer: no token")
	}
	if err := saveCreds(credentials{Broker: broker, Token: res.Token, User: res.Username}); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	fmt.Fprintf(out, "Logged in to %s as %s (%s) via %s. Token valid until %s.\n", broker, res.Username, res.Role, provider,
		res.ExpiresAt.Local().Format(time.RFC1123))
	return nil
}
