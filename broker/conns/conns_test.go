package conns

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestClose: Close ends exactly the matching connections, at once, with
// the reason as their cause; done forgets a connection; the parent's end
// ends them all.
func TestClose(t *testing.T) {
	parent, stop := context.WithCancel(context.Background())
	defer stop()
	r := New()
	type opened struct {
		ctx  context.Context
		id   string
		done func()
	}
	open := func(kind string, o Owner) opened {
		ctx, id, done := r.Open(parent, kind, o)
		return opened{ctx, id, done}
	}
	annPortal := open(Events, Owner{UserID: "ann", SessionHash: "s1"})
	annViewer := open(Signal, Owner{UserID: "ann", SessionHash: "s1"})
	annOther := open(Events, Owner{UserID: "ann", SessionHash: "s2"})
	annToken := open(Events, Owner{UserID: "ann", TokenID: "t1"})
	bob := open(Events, Owner{UserID: "bob", SessionHash: "s3"})

	tests := []struct {
		name   string
		match  func(Info) bool
		closed []opened
	}{
		{"one portal session", BySession("s1"), []opened{annPortal, annViewer}},
		{"no session matches nothing", BySession(""), nil},
		{"a token", ByToken("t1"), []opened{annToken}},
		{"events of a user", And(ByUser("ann"), OfKind(Events)), []opened{annOther}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := r.List(func(Info) bool { return true })
			got := r.Close(tc.match, "because "+tc.name)
			var want []string
			for _, c := range tc.closed {
				want = append(want, c.id)
				if err := c.ctx.Err(); err == nil {
					t.Errorf("%s still open", c.id)
				}
				if why := Reason(c.ctx); why != "because "+tc.name {
					t.Errorf("reason %q", why)
				}
				if !errors.Is(context.Cause(c.ctx), ErrClosed) {
					t.Errorf("cause %v", context.Cause(c.ctx))
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("closed %v, want %v", got, want)
			}
			if after := r.List(func(Info) bool { return true }); len(after) != len(before)-len(want) {
				t.Fatalf("%d open after, %d before", len(after), len(before))
			}
		})
	}
	if bob.ctx.Err() != nil {
		t.Fatal("bob's connection was closed")
	}
	bob.done()
	if bob.ctx.Err() == nil || Reason(bob.ctx) != "" {
		t.Fatalf("done: err %v, reason %q", bob.ctx.Err(), Reason(bob.ctx))
	}
	if n := len(r.List(ByUser("bob"))); n != 0 {
		t.Fatalf("bob still listed: %d", n)
	}
	last := open(Signal, Owner{UserID: "cy"})
	stop()
	if last.ctx.Err() == nil || Reason(last.ctx) != "" {
		t.Fatal("parent's end did not end the connection")
	}
	for _, c := range []opened{annPortal, annViewer, annOther, annToken, last} {
		c.done() // idempotent after Close
	}
}
