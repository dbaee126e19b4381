// Package inputtest holds test doubles and probes for remote-control input:
// Recorder, a fake injector that records events, and Checker, a real X11
// window that reports the clicks and keystrokes that reach it, so tests up to
// the end-to-end ones can prove input lands where it should.
package inputtest

import (
	"context"
	"slices"
	"sync"

	"porthole/internal/wire"
)

// Recorder is a fake injector: Inject records each event. Set Err to make
// Inject fail (the event is still recorded).
type Recorder struct {
	mu     sync.Mutex // guards events and Err
	events []wire.Input
	// Err, when not nil, is returned by Inject.
	Err error
}

// Inject records ev and returns r.Err.
func (r *Recorder) Inject(_ context.Context, ev wire.Input) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return r.Err
}

// SetErr sets the error later Injects return, safely while Inject runs.
func (r *Recorder) SetErr(err error) {
	r.mu.Lock()
	r.Err = err
	r.mu.Unlock()
}

// Events returns a copy of the events recorded so far, in order.
func (r *Recorder) Events() []wire.Input {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}
