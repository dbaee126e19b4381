// Command porthole-testpattern paints porthole's test pattern (colour patches,
// a moving element and a frame stamp, see internal/testpattern) on an X
// display until SIGINT or SIGTERM, for the demo, the e2e tests and make bench.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/jezek/xgb"

	"porthole/internal/testpattern"
)

func main() {
	display := flag.String("display", os.Getenv("DISPLAY"), "X display to paint on (default $DISPLAY)")
	rate := flag.Int("rate", 30, "frames per second (1..240)")
	mode := flag.String("mode", "small", "moving area: small (a sliding box) or full (the whole band below the patches scrolls)")
	flag.Parse()

	m, err := testpattern.ParseMode(*mode)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// xgb logs "Could not get authority info" on every connection to an Xvfb
	// without cookies; that is expected here.
	xgb.Logger = log.New(io.Discard, "", 0)
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = testpattern.Run(ctx, testpattern.Options{Display: *display, Rate: *rate, Mode: m, Logger: logger})
	if err != nil {
		logger.Error("testpattern_failed", "err", err)
		stop()
		os.Exit(1)
	}
}
