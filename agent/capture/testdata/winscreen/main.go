//go:build windows

// Command winscreen is a probe of the Windows screen capture for tests under
// Wine (see wine_linux_test.go): it opens the capture of a display the way
// the agent does and reports in JSON on stdout.
//
//	winscreen displays           the displays and the method Screens would use
//	winscreen frame DIR          one frame of display 0: DIR/y.raw, DIR/cb.raw, DIR/cr.raw
//	winscreen next DIR           a first frame, then the next after a change (written as with frame)
//	winscreen time N             N full frames of display 0: ms per frame, and the grab's own share
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"porthole/agent/capture"
	"porthole/internal/wire"
)

type report struct {
	Displays []wire.Display `json:"displays,omitempty"`
	Method   string         `json:"method,omitempty"`
	Bounds   *[4]int        `json:"bounds,omitempty"`
	MsFull   float64        `json:"ms_full,omitempty"`
	MsGrab   float64        `json:"ms_grab,omitempty"`
	Frames   int            `json:"frames,omitempty"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "winscreen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: winscreen displays|frame DIR|next DIR|time N")
	}
	ds, err := capture.Displays()
	if err != nil {
		return err
	}
	screens := capture.NewScreens(nil)
	var rep report
	switch args[0] {
	case "displays":
		rep.Displays, rep.Method = ds, screens.Method()
	case "frame", "next":
		s, err := screens.Open(ds[0], capture.Options{MaxFPS: 60})
		if err != nil {
			return err
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		img, err := s.Next(ctx)
		if err != nil {
			return err
		}
		if args[0] == "next" {
			fmt.Println("ready") // the test changes the screen now
			if img, err = s.Next(ctx); err != nil {
				return err
			}
		}
		if err := dump(args[1], img); err != nil {
			return err
		}
		b := s.Bounds()
		rep.Method, rep.Bounds = s.Method(), &[4]int{b.Min.X, b.Min.Y, b.Max.X, b.Max.Y}
	case "time":
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return err
		}
		s, err := screens.Open(ds[0], capture.Options{MaxFPS: 1000})
		if err != nil {
			return err
		}
		defer s.Close()
		ctx := context.Background()
		if _, err := s.Next(ctx); err != nil {
			return err
		}
		start := time.Now()
		var grab time.Duration // LastGrab: BitBlt, cursor, compare, conversion
		for range n {
			s.Force()
			if _, err := s.Next(ctx); err != nil {
				return err
			}
			grab += s.LastGrab()
		}
		rep.MsFull = float64(time.Since(start).Microseconds()) / 1000 / float64(n)
		rep.MsGrab = float64(grab.Microseconds()) / 1000 / float64(n)
		b := s.Bounds()
		rep.Method, rep.Frames, rep.Bounds = s.Method(), n, &[4]int{b.Min.X, b.Min.Y, b.Max.X, b.Max.Y}
		// A still screen: Next waits, polling; what does a second of it cost?
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := s.Next(short); err == nil {
			return fmt.Errorf("the still screen changed")
		}
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// dump writes the planes of img.
func dump(dir string, img *image.YCbCr) error {
	for name, b := range map[string][]byte{"y.raw": img.Y, "cb.raw": img.Cb, "cr.raw": img.Cr} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
