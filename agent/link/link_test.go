package link

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// TestEnrollWaitsWhenAskedTo: a broker answering 429 or 503 with
// Retry-After is asked again after it; a refusal of another kind is final
// at once, and a context that ends stops the waiting.
func TestEnrollWaitsWhenAskedTo(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		answers []int // status of each attempt
		want    int   // attempts made
		ok      bool
	}{
		{"busy then created", []int{429, 503, 201}, 3, true},
		{"forbidden is final", []int{403, 201}, 1, false},
		{"created at once", []int{201}, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				st := tc.answers[min(int(calls.Add(1))-1, len(tc.answers)-1)]
				if st != 201 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(st)
					fmt.Fprint(w, `{"error":"too many failed attempts, try again later"}`)
					return
				}
				w.WriteHeader(201)
				fmt.Fprint(w, `{"device_id":"d1","device_secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`)
			}))
			defer srv.Close()
			res, err := Enroll(context.Background(), srv.Client(), srv.URL, "phe_x", pub, wire.Inventory{Hostname: "h", OS: "linux"})
			if (err == nil) != tc.ok || int(calls.Load()) != tc.want {
				t.Fatalf("Enroll: %+v, %v after %d attempts; want ok=%v after %d", res, err, calls.Load(), tc.ok, tc.want)
			}
		})
	}
	t.Run("context ends the wait", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(429)
		}))
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := Enroll(ctx, srv.Client(), srv.URL, "phe_x", pub, wire.Inventory{Hostname: "h", OS: "linux"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Enroll: %v, want the deadline", err)
		}
	})
}
