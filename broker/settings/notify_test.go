package settings

import (
	"errors"
	"testing"
)

func TestValidateNotify(t *testing.T) {
	tests := []struct {
		scope, key, value string
		want              error
	}{
		{Global, NotifyEmailTo, "", nil},
		{Global, NotifyEmailTo, "ops@example.com", nil},
		{Global, NotifyEmailTo, "ops@example.com, Help Desk <help@example.com>", nil},
		{Global, NotifyEmailTo, "not an address", ErrBadValue},
		{Global, NotifyEmailTo, "ops", ErrBadValue},
		{"group:g1", NotifyEmailTo, "ops@example.com", ErrBadScope},
		{"device:d1", NotifySMTPHost, "mail.example.com", ErrBadScope},
		{Global, NotifySMTPHost, "mail.example.com", nil},
		{Global, NotifySMTPHost, "127.0.0.1", nil},
		{Global, NotifySMTPHost, "::1", nil},
		{Global, NotifySMTPHost, "mail.example.com:587", ErrBadValue},
		{Global, NotifySMTPHost, "bad host", ErrBadValue},
		{Global, NotifySMTPPort, "0", ErrBadValue},
		{Global, NotifySMTPPort, "65536", ErrBadValue},
		{Global, NotifySMTPPort, "smtp", ErrBadValue},
		{Global, NotifySMTPPort, "25", nil},
		{Global, NotifySMTPFrom, "porthole@example.com", nil},
		{Global, NotifySMTPFrom, "a@b.example, c@d.example", ErrBadValue},
		{Global, NotifySMTPUsername, "relay-user", nil},
		{Global, NotifySMTPUsername, "user\r\nRCPT TO:<x@y>", ErrBadValue},
		{Global, NotifySMTPStartTLS, "auto", nil},
		{Global, NotifySMTPStartTLS, "if_offered", nil},
		{Global, NotifySMTPStartTLS, "sometimes", ErrBadValue},
	}
	for _, tc := range tests {
		if err := Validate(tc.scope, tc.key, tc.value); !errors.Is(err, tc.want) {
			t.Errorf("Validate(%s,%s,%q) = %v, want %v", tc.scope, tc.key, tc.value, err, tc.want)
		}
	}
}
