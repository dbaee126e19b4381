package request

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"porthole/internal/wire"
)

// acksFake records the acknowledgements the agent sends the broker.
type acksFake struct {
	mu   sync.Mutex
	acks []string
}

func (a *acksFake) send(m wire.Message) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ack, ok := m.(*wire.RequestOutcomeAck); ok {
		a.acks = append(a.acks, ack.RequestID)
	}
	return nil
}

// settle waits for the dialogs s opened.
func settle(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLateOutcomeToldOnceAcrossRestarts: an outcome nobody waits for is
// shown on the desktop with when it was asked, and acknowledged; the same
// outcome resent — in the same run or after a restart on the same state
// directory — is acknowledged again but not shown again.
func TestLateOutcomeToldOnceAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	asked := time.Date(2026, 3, 1, 14, 2, 0, 0, time.Local)
	denied := &wire.SupportRequestResult{RequestID: "r1", Status: wire.RequestDenied, Message: "call the desk", By: "admin", RequestedAt: asked}
	expired := &wire.SupportRequestResult{RequestID: "r2", Status: wire.RequestExpired, Message: "Nobody picked it up.", RequestedAt: asked}
	acks := &acksFake{}
	var shown []string
	for run := range 3 {
		o, err := OpenOutcomes(dir)
		if err != nil {
			t.Fatal(err)
		}
		n := &notifyFake{}
		s := New(Config{Send: acks.send, Notify: n, Outcomes: o})
		for _, m := range []*wire.SupportRequestResult{denied, denied, expired} {
			s.Result(context.Background(), m)
		}
		settle(t, s)
		if run == 0 {
			shown = n.shown()
		} else if len(n.shown()) != 0 {
			t.Errorf("run %d showed again: %q", run, n.shown())
		}
	}
	want := []string{"Your support request of Mar 1 14:02 was denied by admin: call the desk.",
		"Your support request of Mar 1 14:02 expired: Nobody picked it up."}
	if d := cmp.Diff(want, shown); d != "" {
		t.Errorf("shown (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"r1", "r1", "r2", "r1", "r1", "r2", "r1", "r1", "r2"}, acks.acks); d != "" {
		t.Errorf("acks (-want +got):\n%s", d)
	}
}

// TestWaitingCommandGetsOutcome: an outcome the filing command waits for
// goes to it (as before), is acknowledged, and a resend shows nothing.
func TestWaitingCommandGetsOutcome(t *testing.T) {
	acks := &acksFake{}
	n := &notifyFake{}
	s := New(Config{Send: acks.send, Notify: n})
	ch, err := s.Submit(context.Background(), Local{Name: "Ann", Email: "ann@example.com", Reason: "VPN"})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	s.mu.Lock()
	for k := range s.pending {
		id = k
	}
	s.mu.Unlock()
	res := &wire.SupportRequestResult{RequestID: id, Status: wire.RequestDenied, By: "admin"}
	s.Result(context.Background(), res)
	s.Result(context.Background(), res)
	got := <-ch
	if _, open := <-ch; open || got.Status != wire.RequestDenied {
		t.Fatalf("command got %+v (channel open %v)", got, open)
	}
	settle(t, s)
	if len(n.shown()) != 0 {
		t.Errorf("resend shown: %q", n.shown())
	}
	if d := cmp.Diff([]string{id, id}, acks.acks); d != "" {
		t.Errorf("acks (-want +got):\n%s", d)
	}
}

func TestWhen(t *testing.T) {
	now := time.Date(2026, 3, 1, 18, 0, 0, 0, time.Local)
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 3, 1, 14, 2, 0, 0, time.Local), "14:02"},
		{time.Date(2026, 2, 27, 9, 5, 0, 0, time.Local), "Feb 27 09:05"},
	} {
		if got := When(tt.at, now); got != tt.want {
			t.Errorf("When(%v) = %q, want %q", tt.at, got, tt.want)
		}
	}
}
