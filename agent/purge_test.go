package agent

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"testing"
	"time"

	"porthole/agent/link"
	"porthole/agent/outbox"
	"porthole/agent/support"
)

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

var _ io.Closer = nopCloser{}

// TestPurgeRemovesEverythingNow: Purge applies the break-glass journal as
// if every deadline had passed, and reports the removals it could not
// deliver to the broker (here unreachable) as still in the outbox.
func TestPurgeRemovesEverythingNow(t *testing.T) {
	ob, err := outbox.Open(t.TempDir(), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	f := &fakeAccounts{}
	f.onReconcile = func() { _, _ = ob.Add("breakglass.expired", map[string]string{"username": "ph-abcdefgh"}) }
	a := &Agent{events: ob, rtc: nopCloser{}, support: support.New(support.Config{}),
		bg:  &breakGlass{mgr: f, log: slog.New(slog.DiscardHandler)},
		lnk: link.New(link.Config{BrokerURL: "http://127.0.0.1:1", DeviceID: "d1", Key: key, MinBackoff: 10 * time.Millisecond})}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	before := time.Now()
	n, err := a.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.reconciled) != 1 || f.reconciled[0].Before(before.Add(50*365*24*time.Hour)) {
		t.Fatalf("reconciled at %v: want one reconcile past every deadline", f.reconciled)
	}
	if n != 1 {
		t.Fatalf("undelivered = %d, want the removal event still queued", n)
	}
}
