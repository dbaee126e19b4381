package notify

import "errors"

// Errors, matched with errors.Is.
var (
	// ErrNoHost means email notifications are on (notify.email_to is set)
	// but notify.smtp_host is not; retrying cannot help.
	ErrNoHost = errors.New("notify: notify.smtp_host is not set")
	// ErrNoStartTLS means STARTTLS is required but the server does not
	// offer it.
	ErrNoStartTLS = errors.New("notify: the SMTP server does not offer STARTTLS, which notify.smtp_starttls requires")
	// ErrNoAuth means a username is set but the server offers no AUTH.
	ErrNoAuth = errors.New("notify: the SMTP server offers no authentication, but notify.smtp_username is set")
	// ErrClosed means the notifier was shutting down.
	ErrClosed = errors.New("notify: broker shutting down")
)
