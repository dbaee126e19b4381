package dbtime

import (
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		ms   int64
		out  time.Time
	}{
		{"zero", time.Time{}, 0, time.Time{}},
		{"utc", time.UnixMilli(1_700_000_000_123).UTC(), 1_700_000_000_123, time.UnixMilli(1_700_000_000_123).UTC()},
		{"sub-millisecond and zone dropped", time.Date(2026, 1, 2, 3, 4, 5, 6_789_000, time.FixedZone("x", 3600)),
			time.Date(2026, 1, 2, 2, 4, 5, 6_000_000, time.UTC).UnixMilli(), time.Date(2026, 1, 2, 2, 4, 5, 6_000_000, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MS(tc.in); got != tc.ms {
				t.Fatalf("MS = %d, want %d", got, tc.ms)
			}
			if got := FromMS(tc.ms); !got.Equal(tc.out) || got.Location() != tc.out.Location() {
				t.Fatalf("FromMS = %v, want %v", got, tc.out)
			}
		})
	}
}
