package platform

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestStartCheck: every missing required service is named in one error
// that stops run; a missing optional one is only logged.
func TestStartCheck(t *testing.T) {
	var logs bytes.Buffer
	c := &check{log: slog.New(slog.NewTextHandler(&logs, nil))}
	if !c.require("video encoder", nil) || !c.optional("remote input", nil) || c.err() != nil {
		t.Fatal("available services counted as missing")
	}
	c.require("screen capture", errors.New("not supported on macOS yet"))
	c.optional("remote input", errors.New("not supported on macOS yet"))
	c.require("consent prompt", errors.ErrUnsupported)
	err := c.err()
	if err == nil || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("err = %v, want one wrapping each missing service", err)
	}
	for _, want := range []string{"screen capture: not supported on macOS yet", "consent prompt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "remote input") {
		t.Errorf("an optional service stopped run: %v", err)
	}
	if !strings.Contains(logs.String(), "service=\"remote input\"") {
		t.Errorf("the missing optional service was not logged: %s", logs.String())
	}
}

// TestEncoderCheck: this (cgo) build encodes; the CGO_ENABLED=0 build's
// refusal is tested by encode's own test, run by cmd/porthole-agent's
// TestCrossBuilds.
func TestEncoderCheck(t *testing.T) {
	if err := checkEncoder(); err != nil {
		t.Fatal(err)
	}
}
