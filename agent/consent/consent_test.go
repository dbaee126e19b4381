package consent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAnswer(t *testing.T) {
	for _, tc := range []struct {
		a       Answer
		name    string
		granted bool
	}{
		{Declined, "declined", false},
		{Allowed, "allowed", true},
		{TimedOut, "timed_out", false},
		{Unattended, "unattended", true},
		{Answer(42), "answer(42)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.String(); got != tc.name {
				t.Errorf("String() = %q, want %q", got, tc.name)
			}
			if got := tc.a.Granted(); got != tc.granted {
				t.Errorf("Granted() = %v, want %v", got, tc.granted)
			}
		})
	}
	var zero Answer
	if zero.Granted() {
		t.Error("the zero Answer grants access")
	}
}

func TestRequestText(t *testing.T) {
	for _, tc := range []struct {
		name             string
		req              Request
		question, notice string
	}{
		{
			name:     "control",
			req:      Request{Requester: "Alice Admin"},
			question: "Alice Admin wants to view and control your screen. Allow?",
			notice:   "Your screen is being shared with Alice Admin (they can also control it). Done ends it.",
		},
		{
			name:     "view only",
			req:      Request{Requester: "Bob", ViewOnly: true},
			question: "Bob wants to view your screen. Allow?",
			notice:   "Your screen is being shared with Bob. Done ends it.",
		},
		{
			name:     "control characters and newlines removed",
			req:      Request{Requester: "Eve\n\nwants nothing.\x1b[2J\u202e Allow? ", ViewOnly: true},
			question: "Eve wants nothing.[2J Allow? wants to view your screen. Allow?",
			notice:   "Your screen is being shared with Eve wants nothing.[2J Allow?. Done ends it.",
		},
		{
			name:     "long name cut",
			req:      Request{Requester: strings.Repeat("x", 100), ViewOnly: true},
			question: strings.Repeat("x", 63) + "… wants to view your screen. Allow?",
			notice:   "Your screen is being shared with " + strings.Repeat("x", 63) + "…. Done ends it.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.req.Question(); got != tc.question {
				t.Errorf("Question() = %q, want %q", got, tc.question)
			}
			if got := tc.req.Notice(); got != tc.notice {
				t.Errorf("Notice() = %q, want %q", got, tc.notice)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     Request
		timeout time.Duration
		err     error
	}{
		{"default timeout", Request{Requester: "a"}, DefaultTimeout, nil},
		{"negative timeout", Request{Requester: "a", Timeout: -time.Second}, DefaultTimeout, nil},
		{"own timeout", Request{Requester: "a", Timeout: 5 * time.Second}, 5 * time.Second, nil},
		{"no requester", Request{}, 0, ErrNoRequester},
		{"blank requester", Request{Requester: " \n\t\u200b"}, 0, ErrNoRequester},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.req.normalize()
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && got.Timeout != tc.timeout {
				t.Errorf("Timeout = %v, want %v", got.Timeout, tc.timeout)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		req  Request
		want Answer
		err  error
	}{
		{"unattended", context.Background(), Request{Requester: "ops"}, Unattended, nil},
		{"no requester", context.Background(), Request{}, Declined, ErrNoRequester},
		{"cancelled", cancelled, Request{Requester: "ops"}, Declined, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Policy{}.Ask(tc.ctx, tc.req)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("Ask = %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}
