package settings

import (
	"fmt"
	"net"
	"net/mail"
	"strings"
)

// Email notification keys (global scope only): where new requests are
// mailed and through which SMTP server. The SMTP password is not a setting:
// the broker takes it from its environment, so it never reaches the
// database, the audit log or an API answer.
const (
	// NotifyEmailTo lists the recipients of new-request emails
	// (comma-separated; empty = email notifications off).
	NotifyEmailTo = "notify.email_to"
	// NotifySMTPHost is the SMTP server's host name or IP address.
	NotifySMTPHost = "notify.smtp_host"
	// NotifySMTPPort is the SMTP server's port (default 587, submission).
	NotifySMTPPort = "notify.smtp_port"
	// NotifySMTPFrom is the sender address (default porthole@ the broker's host name).
	NotifySMTPFrom = "notify.smtp_from"
	// NotifySMTPUsername is the AUTH PLAIN user (empty = no authentication).
	NotifySMTPUsername = "notify.smtp_username"
	// NotifySMTPStartTLS says whether the connection must be upgraded
	// with STARTTLS: "auto" (required, except if_offered on a loopback
	// host), "required", "if_offered" or "off".
	NotifySMTPStartTLS = "notify.smtp_starttls"
)

// globalOnly are keys that make sense for the whole broker only; a group
// or device value is refused.
var globalOnly = map[string]bool{}

func init() {
	for k, sp := range map[string]spec{
		NotifyEmailTo:      {"", text(addressList), "Email new requests to these addresses (comma-separated; empty = off; global scope)"},
		NotifySMTPHost:     {"", text(hostName), "SMTP server host name or IP for request emails (global scope)"},
		NotifySMTPPort:     {"587", intRange(1, 65535), "SMTP server port: 587 (submission) by default, 25 for a local relay"},
		NotifySMTPFrom:     {"", text(optionalAddress), "Sender address of request emails (empty = porthole@ the broker's host name)"},
		NotifySMTPUsername: {"", text(smtpUser), "SMTP user for AUTH PLAIN (empty = none); the password comes from PORTHOLE_SMTP_PASSWORD"},
		NotifySMTPStartTLS: {"auto", oneOf("auto", "required", "if_offered", "off"),
			"STARTTLS: required, if_offered, off; auto = required except on localhost/127.0.0.1 (if_offered)"},
	} {
		specs[k] = sp
		globalOnly[k] = true
	}
	labels[NotifyEmailTo] = "Email requests to"
	labels[NotifySMTPHost] = "SMTP host"
	labels[NotifySMTPPort] = "SMTP port"
	labels[NotifySMTPFrom] = "SMTP sender address"
	labels[NotifySMTPUsername] = "SMTP username"
	labels[NotifySMTPStartTLS] = "SMTP STARTTLS"
}

// maxRecipients bounds notify.email_to.
const maxRecipients = 20

// addressList accepts comma-separated email addresses ("Name <a@b>" too).
func addressList(v string) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	list, err := mail.ParseAddressList(v)
	if err != nil {
		return fmt.Errorf("%w: want comma-separated email addresses: %v", ErrBadValue, err)
	}
	if len(list) > maxRecipients {
		return fmt.Errorf("%w: at most %d recipients", ErrBadValue, maxRecipients)
	}
	for _, a := range list {
		if err := bareAddress(a.Address); err != nil {
			return err
		}
	}
	return nil
}

// optionalAddress accepts one email address or nothing.
func optionalAddress(v string) error {
	if v == "" {
		return nil
	}
	a, err := mail.ParseAddress(v)
	if err != nil {
		return fmt.Errorf("%w: want an email address: %v", ErrBadValue, err)
	}
	return bareAddress(a.Address)
}

// bareAddress refuses what net/mail accepts but SMTP envelopes cannot
// carry (control characters, a missing domain).
func bareAddress(a string) error {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 || strings.ContainsAny(a, "\r\n<> ") {
		return fmt.Errorf("%w: %q is not an email address", ErrBadValue, a)
	}
	return nil
}

// hostName accepts a DNS name or an IP address, without a port.
func hostName(v string) error {
	if v == "" || net.ParseIP(v) != nil {
		return nil
	}
	if len(v) > 253 {
		return fmt.Errorf("%w: host name too long", ErrBadValue)
	}
	for _, label := range strings.Split(v, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' {
			return fmt.Errorf("%w: %q is not a host name (no port: set %s)", ErrBadValue, v, NotifySMTPPort)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%w: %q is not a host name (no port: set %s)", ErrBadValue, v, NotifySMTPPort)
			}
		}
	}
	return nil
}

// smtpUser accepts a user name without control characters.
func smtpUser(v string) error {
	if len(v) > 256 {
		return fmt.Errorf("%w: user name too long", ErrBadValue)
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: user name has a control character", ErrBadValue)
		}
	}
	return nil
}
