package live

import "testing"

func TestSlowSubscriberIsDropped(t *testing.T) {
	h := NewHub()
	fast, cancelFast := h.Subscribe()
	defer cancelFast()
	slow, cancelSlow := h.Subscribe()
	defer cancelSlow()
	for i := range 100 {
		h.Publish(Event{Type: "device", ID: string(rune('a' + i%26))})
		<-fast
	}
	n := 0
	for range slow {
		n++
	}
	if n != 64 {
		t.Fatalf("slow subscriber got %d events before being dropped, want 64", n)
	}
}
