package relay

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/broker/recording"
)

// TestTapFeedsRecorder taps a real recorder into the forward path: every
// frame still reaches the browser unchanged and promptly, and the recorder
// gets them all.
func TestTapFeedsRecorder(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	recs, err := recording.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recs.Close() })
	var mu sync.Mutex
	var hold []time.Duration
	r := connectHooked(t, newAPI(t), func(d time.Duration) {
		mu.Lock()
		hold = append(hold, d)
		mu.Unlock()
	})
	rec, err := recs.New("tap1", recording.Options{RequestKeyframe: r.sess.RequestKeyframe})
	if err != nil {
		t.Fatal(err)
	}
	r.sess.SetTap(rec.WriteRTP)
	warmUp(t, r)
	mu.Lock()
	hold = hold[:0]
	mu.Unlock()
	before := rec.Stats().Packets

	const n = 120
	for i := range n {
		f := keyframe(t, 3000)
		if err := r.agent.WriteFrame(f, 33*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-r.browser.frames:
			if !bytes.Equal(got.data, f) {
				t.Fatalf("frame %d differs", i)
			}
		case <-time.After(wait):
			t.Fatalf("frame %d lost", i)
		}
	}
	waitFor(t, "recorder packets", func() bool { return rec.Stats().Packets-before >= n*3 })
	r.sess.SetTap(nil)
	res, err := rec.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if res.Dropped != 0 || res.Frames < n || len(res.Files) != 1 || res.Files[0].Width != 640 {
		t.Fatalf("recording %+v, want ≥ %d frames in one 640-wide file and no drops", res, n)
	}
	mu.Lock()
	p50 := pct(slices.Clone(hold), 50)
	mu.Unlock()
	if p50 > 2*time.Millisecond {
		t.Fatalf("relay hold p50 %v with the tap, want ≤ 2ms", p50)
	}
}
