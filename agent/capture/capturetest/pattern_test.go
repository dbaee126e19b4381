package capturetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestPattern(t *testing.T) {
	p := NewPattern(129, 65, false)
	ctx := context.Background()
	a, err := p.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.Rect.Dx() != 128 || a.Rect.Dy() != 64 {
		t.Fatalf("size %v, want 128x64", a.Rect)
	}
	first := bytes.Clone(a.Y)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := p.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("static Next = %v, want deadline", err)
	}
	if !bytes.Equal(a.Y, first) {
		t.Error("a failed Next changed the image")
	}
	p.Change()
	b, err := p.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(b.Y, first) {
		t.Error("the square did not move")
	}
	if p.Frames() != 2 {
		t.Errorf("Frames() = %d", p.Frames())
	}

	// Moving: each Next returns at once with a different picture.
	m := NewPattern(64, 64, true)
	var prev []byte
	for i := range 3 {
		start := time.Now()
		img, err := m.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("moving Next %d took %v", i, d)
		}
		if bytes.Equal(img.Y, prev) {
			t.Errorf("moving frame %d equals the previous one", i)
		}
		prev = bytes.Clone(img.Y)
	}
}
