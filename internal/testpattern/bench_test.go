package testpattern

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"porthole/internal/xvfb"
)

// BenchmarkPaint measures one painted frame: building the fills, sending them
// and the round trip that waits for the X server to draw them. ns/op is wall
// time (client + server); cpu-ns/op is this process's CPU (user + system) only.
func BenchmarkPaint(b *testing.B) {
	for _, size := range []struct{ w, h int }{{1280, 720}, {1920, 1080}} {
		x := xvfb.StartT(b, xvfb.Options{Width: size.w, Height: size.h})
		for _, mode := range []Mode{ModeSmall, ModeFull} {
			b.Run(fmt.Sprintf("%dx%d/%v", size.w, size.h, mode), func(b *testing.B) {
				p, err := newPainter(Options{Display: x.Display, Mode: mode})
				if err != nil {
					b.Fatal(err)
				}
				defer p.close()
				if err := p.paint(true); err != nil {
					b.Fatal(err)
				}
				start := cpuTime(b)
				b.ResetTimer()
				for b.Loop() {
					if err := p.paint(false); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime is the CPU this process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
