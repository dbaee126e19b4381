package requests

import (
	"context"
	"errors"
	"testing"
	"time"

	"porthole/broker/store"
)

// TestAccessKindLeftToItsPolicy: the generic queue neither decides nor
// expires access requests; broker/access does, under their policy.
func TestAccessKindLeftToItsPolicy(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	now := r.clk.Now()
	if err := r.st.CreateRequest(ctx, store.Request{ID: "acc1", Kind: KindAccess, DeviceID: "g1", Requester: "tom", Payload: `{}`,
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := r.m.Deny(ctx, "acc1", Decision{By: "ann"}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("deny: %v", err)
	}
	if _, err := r.m.Approve(ctx, "acc1", Decision{By: "ann"}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("approve: %v", err)
	}
	r.clk.Advance(time.Hour)
	if n, err := r.m.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if got, _ := r.st.Request(ctx, "acc1"); got.Status != store.RequestPending {
		t.Fatalf("status %s", got.Status)
	}
}
