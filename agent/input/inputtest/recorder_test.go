package inputtest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"porthole/agent/input/inputtest"
	"porthole/internal/wire"
)

type injector interface {
	Inject(ctx context.Context, ev wire.Input) error
}

var _ injector = (*inputtest.Recorder)(nil)

func TestRecorder(t *testing.T) {
	var r inputtest.Recorder
	evs := []wire.Input{
		{Kind: wire.InputMove, X: 1, Y: 2},
		{Kind: wire.InputKeyDown, Code: "KeyA", Mods: wire.ModShift},
	}
	for _, ev := range evs {
		if err := r.Inject(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("boom")
	r.SetErr(boom)
	last := wire.Input{Kind: wire.InputReleaseAll}
	if err := r.Inject(context.Background(), last); !errors.Is(err, boom) {
		t.Fatalf("Inject = %v, want %v", err, boom)
	}
	got := r.Events()
	if d := cmp.Diff(append(evs, last), got); d != "" {
		t.Fatalf("events (-want +got):\n%s", d)
	}
	got[0].X = 99
	if r.Events()[0].X != 1 {
		t.Fatal("Events exposes the recorder's slice")
	}
}
