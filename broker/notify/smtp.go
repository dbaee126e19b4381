package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/smtp"
	"strconv"
)

// STARTTLS modes (the notify.smtp_starttls setting).
const (
	StartTLSAuto      = "auto"       // required, except if_offered on a loopback host
	StartTLSRequired  = "required"   // refuse to send over a plain connection
	StartTLSIfOffered = "if_offered" // upgrade when the server offers it
	StartTLSOff       = "off"        // never upgrade
)

// Server is where and how mail is submitted, from the notify.* settings.
type Server struct {
	Host     string
	Port     int
	Username string // AUTH PLAIN user; empty = no authentication
	StartTLS string // a StartTLS* mode; "" means auto
}

// Addr is host:port.
func (s Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// startTLS resolves auto: a loopback relay (a local MTA) rarely has a
// certificate for "localhost", anything else must be encrypted.
func (s Server) startTLS() string {
	if s.StartTLS != "" && s.StartTLS != StartTLSAuto {
		return s.StartTLS
	}
	if ip := net.ParseIP(s.Host); s.Host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return StartTLSIfOffered
	}
	return StartTLSRequired
}

// SMTP submits messages with net/smtp. Its Password is the secret for
// AUTH PLAIN, which net/smtp sends only over TLS (or to localhost).
type SMTP struct {
	Password string
	// RootCAs verifies the server's certificate (nil = the system's).
	RootCAs *x509.CertPool
	// HelloName is sent in EHLO (default "localhost", as net/smtp does).
	HelloName string
}

// Send delivers msg through srv. ctx bounds the whole exchange: dialling,
// and every read and write after it (the connection is closed when ctx ends).
func (c *SMTP) Send(ctx context.Context, srv Server, msg Message) (err error) {
	if srv.Host == "" {
		return ErrNoHost
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", srv.Addr())
	if err != nil {
		return fmt.Errorf("smtp dial %s: %w", srv.Addr(), err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		if !stop() && err != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
	}()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	cl, err := smtp.NewClient(conn, srv.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: greeting: %w", srv.Addr(), err)
	}
	defer cl.Close()
	if err := c.exchange(cl, srv, msg); err != nil {
		return fmt.Errorf("smtp %s: %w", srv.Addr(), err)
	}
	return nil
}

// exchange runs the SMTP dialogue on a greeted client.
func (c *SMTP) exchange(cl *smtp.Client, srv Server, msg Message) error {
	hello := c.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := cl.Hello(hello); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if mode := srv.startTLS(); mode != StartTLSOff {
		if ok, _ := cl.Extension("STARTTLS"); ok {
			if err := cl.StartTLS(&tls.Config{ServerName: srv.Host, RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		} else if mode == StartTLSRequired {
			return ErrNoStartTLS
		}
	}
	if srv.Username != "" {
		if ok, _ := cl.Extension("AUTH"); !ok {
			return ErrNoAuth
		}
		if err := cl.Auth(smtp.PlainAuth("", srv.Username, c.Password, srv.Host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := cl.Mail(msg.From); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, to := range msg.To {
		if err := cl.Rcpt(to); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", to, err)
		}
	}
	w, err := cl.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg.Bytes()); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The server accepted the message at the end of DATA: a failed QUIT
	// must not make the caller send it again.
	_ = cl.Quit()
	return nil
}
