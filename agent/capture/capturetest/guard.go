package capturetest

import "porthole/agent/capture"

var _ source = (*capture.Screen)(nil)
