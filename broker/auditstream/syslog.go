package auditstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"porthole/broker/audit"
	"porthole/broker/store"
)

// syslogPRI is facility 13 ("log audit") at severity 5 (notice).
const syslogPRI = 13*8 + 5

// sdID names the structured data; 32473 is the example number RFC 5424 reserves for documentation.
const sdID = "porthole@32473"

type syslogSink struct {
	network, addr, host string

	mu   sync.Mutex
	conn net.Conn // guarded by mu; nil until dialled or after an error
}

func newSyslog(raw, host string) (*syslogSink, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "udp") || u.Host == "" || u.Port() == "" {
		return nil, fmt.Errorf("%w: syslog %q: want tcp://host:port or udp://host:port", ErrConfig, raw)
	}
	return &syslogSink{network: u.Scheme, addr: u.Host, host: printable(host, 255)}, nil
}

// Format renders rec as one RFC 5424 message: the record's fields as
// structured data and the full record (JSON) as the message, so a receiver
// can re-verify the chain from it.
func Format(rec store.AuditRecord, host string) []byte {
	if host == "" {
		host = "-"
	}
	body, _ := json.Marshal(audit.ToRecord(rec))
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s porthole-broker - %s [%s seq=\"%d\" actor=\"%s\" action=\"%s\" target=\"%s\" source_ip=\"%s\" hash=\"%s\"] ",
		syslogPRI, rec.Time.UTC().Format("2006-01-02T15:04:05.000Z"), host, printable(rec.Action, 32), sdID, rec.Seq,
		sdEscape(rec.Actor), sdEscape(rec.Action), sdEscape(rec.Target), sdEscape(rec.SourceIP), rec.Hash)
	b.WriteString("\xEF\xBB\xBF") // BOM: the MSG is UTF-8
	b.Write(body)
	return []byte(b.String())
}

// printable keeps the printable US-ASCII RFC 5424 requires in header fields.
func printable(s string, n int) string {
	out := strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return '_'
		}
		return r
	}, s)
	if out == "" {
		return "-"
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func sdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}

func (s *syslogSink) send(ctx context.Context, rec store.AuditRecord) error {
	msg := Format(rec, s.host)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, s.network, s.addr)
		if err != nil {
			return fmt.Errorf("syslog dial %s: %w", s.addr, err)
		}
		s.conn = c
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	var err error
	if s.network == "tcp" {
		// RFC 6587 octet counting: "LEN SP MSG", safe for messages with newlines.
		_, err = s.conn.Write(append([]byte(strconv.Itoa(len(msg))+" "), msg...))
	} else {
		_, err = s.conn.Write(msg)
	}
	if err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("syslog write: %w", err)
	}
	return nil
}

func (s *syslogSink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}
