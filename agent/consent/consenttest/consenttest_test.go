package consenttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"porthole/agent/consent"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFixed(t *testing.T) {
	errBoom := errors.New("boom")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name  string
		fixed *Fixed
		ctx   context.Context
		want  consent.Answer
		err   error
	}{
		{"zero value declines", &Fixed{}, context.Background(), consent.Declined, nil},
		{"allowed", &Fixed{Answer: consent.Allowed}, context.Background(), consent.Allowed, nil},
		{"timed out", &Fixed{Answer: consent.TimedOut}, context.Background(), consent.TimedOut, nil},
		{"error declines", &Fixed{Answer: consent.Allowed, Err: errBoom}, context.Background(), consent.Declined, errBoom},
		{"cancelled", &Fixed{Answer: consent.Allowed}, cancelled, consent.Declined, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reqs := []consent.Request{{Requester: "a"}, {Requester: "b", ViewOnly: true}}
			for _, req := range reqs {
				got, err := tc.fixed.Ask(tc.ctx, req)
				if got != tc.want || !errors.Is(err, tc.err) {
					t.Errorf("Ask = %v, %v; want %v, %v", got, err, tc.want, tc.err)
				}
			}
			if diff := cmp.Diff(reqs, tc.fixed.Requests()); diff != "" {
				t.Errorf("Requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIndicator(t *testing.T) {
	var ind Indicator
	if ind.End() {
		t.Error("End with nothing shown reported true")
	}
	done, stop, err := ind.Show(context.Background(), consent.Request{Requester: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if !ind.End() {
		t.Fatal("End reported false")
	}
	<-done
	if ind.End() {
		t.Error("second End reported true")
	}
	stop()

	ctx, cancel := context.WithCancel(context.Background())
	done, stop, err = ind.Show(ctx, consent.Request{Requester: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for !ind.Stopped() {
		if time.Now().After(deadline) {
			t.Fatal("cancelled indicator not stopped")
		}
		time.Sleep(time.Millisecond)
	}
	if ind.End() {
		t.Error("End after stop reported true")
	}
	select {
	case <-done:
		t.Error("done closed by stop")
	default:
	}
	if diff := cmp.Diff([]consent.Request{{Requester: "a"}, {Requester: "b"}}, ind.Shown()); diff != "" {
		t.Errorf("Shown (-want +got):\n%s", diff)
	}

	errBoom := errors.New("boom")
	if _, _, err := (&Indicator{Err: errBoom}).Show(context.Background(), consent.Request{Requester: "c"}); !errors.Is(err, errBoom) {
		t.Errorf("Show err = %v, want boom", err)
	}
}
