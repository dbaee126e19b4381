package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestElevationMessagesInvalid(t *testing.T) {
	for _, m := range []Message{
		&ElevationPolicy{MaxMinutes: 1},
		&ElevationPolicy{MaxMinutes: 60, SelfApproveGroups: []string{""}},
		&ElevationRequestCode{RequestID: "r1", Code: "X"},
		&ElevationRequestCode{RequestID: "bad id", User: "ann", Code: "X"},
	} {
		if _, err := Encode(m); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v encoded: %v", m, err)
		}
	}
}

// TestMarshalElevationEventFits drops trailing arguments of a huge command
// line until the event fits in an agent event.
func TestMarshalElevationEventFits(t *testing.T) {
	args := make([]string, 64)
	for i := range args {
		args[i] = strings.Repeat("x", 256)
	}
	e := ElevationEvent{SessionID: "s1", User: "ann", Process: &ElevationProcessed{PID: 2, Exe: "/bin/sh", Args: args}}
	b, err := MarshalElevationEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxAgentEventData {
		t.Fatalf("%d bytes", len(b))
	}
	got, err := DecodeElevationEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	n := len(got.Process.Args)
	if n < 10 || n >= 64 || got.Process.Args[n-1] != "…" || got.Process.Args[0] != args[0] {
		t.Errorf("kept %d args, last %q", n, got.Process.Args[n-1])
	}
	if len(e.Process.Args) != 64 {
		t.Error("input modified")
	}
}
