package agent

import (
	"testing"
	"time"

	"porthole/internal/wire"
)

func TestElevationOutcome(t *testing.T) {
	until := time.Date(2026, 11, 23, 15, 30, 0, 0, time.Local)
	tests := []struct {
		name, by, status, message, want string
	}{
		{"approved", "tech", wire.RequestApproved, "", "Your request for administrator rights was approved by tech: bob is an administrator until 15:30."},
		{"denied with a comment", "tech", wire.RequestDenied, "not now", "Your request for administrator rights was denied by tech: not now."},
		{"denied", "", wire.RequestDenied, "", "Your request for administrator rights was denied."},
		{"expired", "", wire.RequestExpired, "Nobody picked it up.", "Your request for administrator rights expired: Nobody picked it up."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := elevationOutcome("bob", tt.by, tt.status, tt.message, until, time.Time{}); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
