package clocktest

import (
	"context"
	"testing"
	"time"

	"porthole/agent/accounts"
	"porthole/internal/clock"
)

var (
	_ clock.Clock    = (*TimerClock)(nil)
	_ accounts.Timer = (*TimerClock)(nil)
)

func TestClockFiresOnlyWhenDue(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewTimerClock(start)
	ch := c.After(time.Hour)
	if err := c.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(59 * time.Minute)
	select {
	case <-ch:
		t.Fatal("timer fired before its deadline")
	default:
	}
	c.Advance(time.Minute)
	select {
	case got := <-ch:
		if want := start.Add(time.Hour); !got.Equal(want) {
			t.Fatalf("fired with %v, want %v", got, want)
		}
	default:
		t.Fatal("timer did not fire at its deadline")
	}
	if n := c.Waiters(); n != 0 {
		t.Fatalf("Waiters() = %d after firing, want 0", n)
	}
	select {
	case <-c.After(0):
	default:
		t.Fatal("After(0) did not fire at once")
	}
}

func TestClockBlockUntilHonoursContext(t *testing.T) {
	c := NewTimerClock(time.Unix(0, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.BlockUntil(ctx, 1); err == nil {
		t.Fatal("BlockUntil returned nil with no timers pending")
	}
}
