//go:build !cgo

package encode

import (
	"errors"
	"testing"
)

// TestNotBuiltWithoutCgo runs only in a CGO_ENABLED=0 build (the
// cross-build test in cmd/porthole-agent runs it): the encoder refuses at
// construction, after checking the config like the real one.
func TestNotBuiltWithoutCgo(t *testing.T) {
	if _, err := NewVP8(Config{Width: 64, Height: 64}); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("NewVP8 = %v, want ErrNotBuilt", err)
	}
	if _, err := NewVP8(Config{Width: 1, Height: 64}); !errors.Is(err, ErrConfig) {
		t.Fatalf("NewVP8 with a bad size = %v, want ErrConfig", err)
	}
}
