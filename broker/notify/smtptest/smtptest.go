// Package smtptest runs a real SMTP server for tests: aiosmtpd (Debian's
// python3-aiosmtpd, installed by scripts/install-deps.sh) on 127.0.0.1 with
// a free port, delivering into a Maildir the test reads with net/mail.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is a running aiosmtpd.
type Server struct {
	Host    string // 127.0.0.1
	Port    int
	Maildir string
}

// python is the interpreter that has Debian's aiosmtpd module: the
// system one, which a python3 earlier on PATH (pyenv) may shadow.
func python() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

// Start runs an SMTP server until the test ends. It offers no STARTTLS
// and no AUTH, like a plain local relay.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t)
}

// StartTLS runs an SMTP server that offers STARTTLS, with a certificate
// for 127.0.0.1 that the returned pool trusts, and refuses mail until
// the client has upgraded.
func StartTLS(t testing.TB) (*Server, *x509.CertPool) {
	t.Helper()
	certPEM, keyPEM := certificate(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return start(t, "--tlscert", cert, "--tlskey", key), pool
}

// certificate makes a self-signed certificate for 127.0.0.1.
func certificate(t testing.TB) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}

func start(t testing.TB, extra ...string) *Server {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "maildir")
	for try := 0; ; try++ {
		port := freePort(t)
		args := append([]string{"-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + strconv.Itoa(port), "-c", "aiosmtpd.handlers.Mailbox"}, extra...)
		cmd := exec.Command(python(), append(args, dir)...)
		out, err := os.Create(filepath.Join(t.TempDir(), "aiosmtpd.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start aiosmtpd (apt-get install python3-aiosmtpd; see scripts/install-deps.sh): %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); out.Close(); close(exited) }()
		if greets(port, exited) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return &Server{Host: "127.0.0.1", Port: port, Maildir: dir}
		}
		_ = cmd.Process.Kill()
		<-exited
		if try == 2 {
			log, _ := os.ReadFile(out.Name())
			t.Fatalf("aiosmtpd did not start on port %d:\n%s", port, log)
		}
	}
}

// greets waits up to 10 s for the server's 220 greeting.
func greets(port int, exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil && strings.HasPrefix(line, "220") {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// freePort returns a port nobody listened on a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreePort returns a port with nothing listening on it, for tests of a
// refused connection.
func FreePort(t testing.TB) int { return freePort(t) }

// Messages returns the messages delivered so far, oldest first.
func (s *Server) Messages(t testing.TB) []*mail.Message {
	t.Helper()
	type delivered struct {
		m  *mail.Message
		at time.Time
	}
	var all []delivered
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(s.Maildir, sub))
		if err != nil {
			continue // the Maildir is made at the first delivery
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(s.Maildir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			m, err := mail.ReadMessage(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("maildir %s: %v", e.Name(), err)
			}
			d := delivered{m: m}
			if info, err := e.Info(); err == nil {
				d.at = info.ModTime()
			}
			all = append(all, d)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	out := make([]*mail.Message, len(all))
	for i, d := range all {
		out[i] = d.m
	}
	return out
}

// Wait returns the delivered messages once there are at least n, failing
// the test after timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []*mail.Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ms := s.Messages(t); len(ms) >= n {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages arrived within %s", len(s.Messages(t)), n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
