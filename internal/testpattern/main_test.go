package testpattern

import (
	"io"
	"log"
	"testing"

	"github.com/jezek/xgb"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// xgb logs a line per connection to a cookie-less Xvfb; set once, before
	// any test connects, so no test races on the global.
	xgb.Logger = log.New(io.Discard, "", 0)
	goleak.VerifyTestMain(m)
}
