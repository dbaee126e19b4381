package audit

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
)

// The anchor's writer and the Coalescer run goroutines: none may outlive
// its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestChainDetectsTampering(t *testing.T) {
	tests := []struct {
		name    string
		tamper  string
		wantSeq int64 // the first bad record Verify must name
	}{
		{"edit details", `UPDATE audit SET details = '{"x":2}' WHERE seq = 2`, 2},
		{"delete middle row", `DELETE FROM audit WHERE seq = 2`, 2},
		{"delete first row", `DELETE FROM audit WHERE seq = 1`, 1},
		{"rewrite actor and hash", `UPDATE audit SET actor = 'user:mallory', hash = 'x' WHERE seq = 1`, 1},
		// Only the anchor outside the database catches these two.
		{"delete newest row", `DELETE FROM audit WHERE seq = 3`, 3},
		{"delete newest two rows", `DELETE FROM audit WHERE seq >= 2`, 2},
		{"reorder rows", `UPDATE audit SET seq = -seq WHERE seq IN (2, 3); UPDATE audit SET seq = CASE seq WHEN -2 THEN 3 ELSE 2 END WHERE seq < 0`, 2},
		{"rewrite newest row consistently", `UPDATE audit SET hash = 'f00' WHERE seq = 3`, 3},
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
			l := New(st, clocktest.New(time.Unix(1700000000, 0)), NewAnchor(filepath.Join(t.TempDir(), "audit-head")))
			defer l.Close()
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
			_, err = l.Verify(ctx)
			var be *BrokenError
			if !errors.As(err, &be) || be.Seq != tc.wantSeq {
				t.Fatalf("tampered chain: %v, want broken at record %d", err, tc.wantSeq)
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
