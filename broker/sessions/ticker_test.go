package sessions_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"porthole/broker/sessions"
	"porthole/broker/sessions/sessionstest"
)

// TestExpireEvery checks that each tick calls expire, that failures are
// logged under the caller's message, and that the loop ends with ctx.
func TestExpireEvery(t *testing.T) {
	ticks := sessionstest.New()
	var (
		mu   sync.Mutex
		logs bytes.Buffer
	)
	log := slog.New(slog.NewTextHandler(&syncWriter{mu: &mu, w: &logs}, nil))
	calls := 0
	expire := func(context.Context) (int, error) {
		calls++ // only the loop goroutine calls; Tick returns after it ran
		if calls == 2 {
			return 0, errors.New("store down")
		}
		return 1, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		sessions.ExpireEvery(ctx, log, "expire things", ticks.NewTicker, time.Second, expire)
		close(done)
	}()
	for ticks.Len() == 0 {
		time.Sleep(time.Millisecond) // the loop has not made its ticker yet
	}
	for range 3 {
		if err := ticks.Tick(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// The third Tick returns once the second call was handled; a fourth
	// makes sure the third was.
	if err := ticks.Tick(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if calls < 3 {
		t.Fatalf("expire called %d times after 4 ticks", calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := logs.String(); strings.Count(got, "msg=\"expire things\"") != 1 || !strings.Contains(got, "store down") {
		t.Fatalf("logs %q, want one error logged as the caller's message", got)
	}
	if ticks.Len() != 0 {
		t.Fatalf("%d tickers still live after ctx ended", ticks.Len())
	}
}

type syncWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
