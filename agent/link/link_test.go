package link

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"porthole/internal/wire"
)

func TestOnRoutesEachTypeToItsHandler(t *testing.T) {
	var logs bytes.Buffer
	l := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	var got []string
	On(l, func(_ context.Context, m *wire.SessionStart) { got = append(got, "start "+m.SessionID) })
	On(l, func(_ context.Context, m *wire.SessionEnd) { got = append(got, "end "+m.SessionID+" "+m.Reason) })

	ctx := context.Background()
	l.route(ctx, &wire.SessionEnd{SessionID: "s1", Reason: "Off"})
	l.route(ctx, &wire.SessionStart{SessionID: "s2"})
	l.route(ctx, &wire.Settings{}) // nobody's

	if want := []string{"end s1 Off", "start s2"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("handled %q, want %q", got, want)
	}
	if !strings.Contains(logs.String(), "unhandled broker message") || !strings.Contains(logs.String(), "type=settings") {
		t.Fatalf("an unhandled message was not logged: %s", logs.String())
	}
}

func TestOnTwiceForOneTypePanics(t *testing.T) {
	l := New(Config{})
	On(l, func(context.Context, *wire.SessionStart) {})
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "session_start") {
			t.Fatalf("recovered %v, want a panic naming session_start", r)
		}
	}()
	On(l, func(context.Context, *wire.SessionStart) {})
}
