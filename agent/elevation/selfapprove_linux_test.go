//go:build linux

package elevation

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"porthole/agent/elevation/elevationtest"
)

// TestSelfApprove grants without a code, reports it as self-approved with
// the user's reason, and expires like any grant.
func TestSelfApprove(t *testing.T) {
	elevationtest.NeedRoot(t)
	h := newHarness(t, "", nil)
	user, _ := testUser(t)
	ctx := context.Background()
	s, err := h.m.SelfApprove(ctx, user, "install the printer driver", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Until.Equal(start.Add(15*time.Minute)) || !strings.Contains(sudoList(t, user), "NOPASSWD: ALL") {
		t.Fatalf("session %+v; sudo -l:\n%s", s, sudoList(t, user))
	}
	evs := h.ev.list()
	if len(evs) != 1 || evs[0].Kind != EventGranted || !evs[0].SelfApproved || evs[0].Note != "install the printer driver" ||
		evs[0].SessionID != s.ID || !evs[0].Until.Equal(s.Until) {
		t.Errorf("events %+v", evs)
	}
	if _, err := h.m.SelfApprove(ctx, "root;x", "r", time.Minute); !errors.Is(err, ErrBadUser) {
		t.Errorf("bad user: %v", err)
	}
	if err := h.m.Reconcile(ctx, start.Add(16*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if dropInExists(user) {
		t.Error("self-approved grant not revoked at expiry")
	}
}
