package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Message is one plain-text email.
type Message struct {
	From    string   // sender address
	To      []string // recipient addresses
	Subject string   // may hold any Unicode; encoded on output
	Body    string   // plain text, LF or CRLF line ends
	Date    time.Time
	// ID is the Message-ID without angle brackets (NewMessageID).
	ID string
}

// NewMessageID returns a unique Message-ID at the sender's domain.
func NewMessageID(from string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	domain := "porthole.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	return hex.EncodeToString(b[:]) + "@" + domain
}

// Bytes renders m as RFC 5322 text with CRLF line ends: headers (the
// subject Q-encoded when it is not plain ASCII) and a quoted-printable
// UTF-8 body, so any server accepts it without 8BITMIME. Dot-stuffing is
// left to the SMTP DATA writer.
func (m Message) Bytes() []byte {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", (&mail.Address{Address: m.From}).String())
	to := make([]string, len(m.To))
	for i, a := range m.To {
		to[i] = (&mail.Address{Address: a}).String()
	}
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	header("Date", m.Date.Format(time.RFC1123Z))
	header("Message-ID", "<"+m.ID+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(m.Body)) // CR, LF and CRLF all become CRLF
	_ = qp.Close()
	return b.Bytes()
}

// oneLine turns control characters (a CR LF from an untrusted host name
// or reason would start a new header) into spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
