package capturetest

import "porthole/agent/capture"

var _ source = (*capture.X11)(nil)
