package audit

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

func TestChainDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper string
	}{
		{"edit details", `UPDATE audit SET details = '{"x":2}' WHERE seq = 2`},
		{"delete middle row", `DELETE FROM audit WHERE seq = 2`},
		{"delete first row", `DELETE FROM audit WHERE seq = 1`},
		{"rewrite actor and hash", `UPDATE audit SET actor = 'user:mallory', hash = 'x' WHERE seq = 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "p.db")
			st, err := store.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			l := New(st, clocktest.New(time.Unix(1700000000, 0)))
			for i := range 3 {
				if _, err := l.Append(ctx, Event{Actor: "user:admin", Action: "test", Target: "t", Details: map[string]any{"x": i}}); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := l.Verify(ctx); err != nil || n != 3 {
				t.Fatalf("intact chain: n=%d err=%v", n, err)
			}
			// Tamper behind the broker's back, as someone with the file would.
			raw, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(tc.tamper); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			if _, err := l.Verify(ctx); !errors.Is(err, ErrBroken) {
				t.Fatalf("tampered chain verified: %v", err)
			}
		})
	}
}

func TestAppendRequiresActorAndAction(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := New(st, nil).Append(context.Background(), Event{Action: "x"}); err == nil {
		t.Fatal("event without actor accepted")
	}
}
