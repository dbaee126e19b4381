// Package capturetest provides a fake screen source for fast tests of code
// that consumes capture frames (the video loop), without an X server.
package capturetest

import (
	"context"
	"image"
	"sync"
)

// source is what the video loop needs from a screen grabber; the guards
// here and in guard_linux.go keep the fake and the real grabber
// interchangeable.
type source interface {
	Next(ctx context.Context) (*image.YCbCr, error)
	Force()
}

var _ source = (*Pattern)(nil)

// Pattern is a fake screen showing a diagonal gradient with a bright square
// that moves 8 pixels per frame. Like capture.X11 its first Next returns at
// once; after that, when Moving is false, Next blocks until Change or Force,
// as a static screen would. Next must not be called concurrently.
type Pattern struct {
	// Moving makes every Next return a new frame at once (a screen that
	// changes constantly, e.g. a video playing).
	Moving bool

	img  *image.YCbCr
	wake chan struct{} // cap 1

	mu     sync.Mutex
	frames int // frames returned; guarded by mu
}

// NewPattern returns a w×h pattern source (sizes rounded down to even).
func NewPattern(w, h int, moving bool) *Pattern {
	return &Pattern{
		Moving: moving,
		img:    image.NewYCbCr(image.Rect(0, 0, w&^1, h&^1), image.YCbCrSubsampleRatio420),
		wake:   make(chan struct{}, 1),
	}
}

// Change simulates a screen change: a blocked or the next Next returns.
func (p *Pattern) Change() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Force behaves like capture.X11.Force: the next Next returns at once.
func (p *Pattern) Force() { p.Change() }

// Frames reports how many frames Next has returned.
func (p *Pattern) Frames() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frames
}

// Next returns the next frame; the image is reused and valid until the next
// successful call. An error leaves it unchanged.
func (p *Pattern) Next(ctx context.Context) (*image.YCbCr, error) {
	p.mu.Lock()
	n := p.frames
	p.mu.Unlock()
	if n > 0 && !p.Moving {
		select {
		case <-p.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	} else if err := ctx.Err(); err != nil {
		return nil, err
	}
	Draw(p.img, n)
	p.mu.Lock()
	p.frames++
	p.mu.Unlock()
	return p.img, nil
}

// Draw paints frame n of the pattern into img (4:2:0). Tests use it to
// build the expected image.
func Draw(img *image.YCbCr, n int) {
	b := img.Rect
	w, h := b.Dx(), b.Dy()
	if w < 2 || h < 2 {
		return
	}
	for y := range h {
		row := img.Y[y*img.YStride : y*img.YStride+w]
		for x := range row {
			row[x] = uint8(16 + (x+y)*200/(w+h))
		}
	}
	for y := range (h + 1) / 2 {
		cb := img.Cb[y*img.CStride : y*img.CStride+(w+1)/2]
		cr := img.Cr[y*img.CStride : y*img.CStride+(w+1)/2]
		for x := range cb {
			cb[x] = uint8(64 + x*128/((w+1)/2))
			cr[x] = uint8(64 + y*128/((h+1)/2))
		}
	}
	// The moving square: up to 64 px and a quarter of the picture, bright
	// and neutral, on even coordinates so its chroma is clean.
	size := max(2, min(64, w/4, h/4)) &^ 1
	x0 := (n * 8) % max(1, w-size+1) &^ 1
	y0 := (n * 4) % max(1, h-size+1) &^ 1
	for y := y0; y < y0+size; y++ {
		row := img.Y[y*img.YStride+x0 : y*img.YStride+x0+size]
		for x := range row {
			row[x] = 235
		}
	}
	for y := y0 / 2; y < (y0+size)/2; y++ {
		for x := x0 / 2; x < (x0+size)/2; x++ {
			img.Cb[y*img.CStride+x] = 128
			img.Cr[y*img.CStride+x] = 128
		}
	}
}
